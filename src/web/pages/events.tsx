/** Durable events (src/events): the topics the backend keeps, publish, and read a topic from its first event on, live. */
import { useEffect, useState } from "preact/hooks";
import { api, type EventTopics, eventsPath, type Info, type MicroErrorJSON } from "../api.js";
import { ErrorBox } from "./call.js";
import { LiveFeed } from "./live.js";
import { FeedOpener, Publisher } from "./publisher.js";

/** How often the topic list is read again: events arrive from other processes without telling the page. */
const REFRESH_MS = 3_000;

export function EventsPage({ info }: { info: Info | null }) {
  const [topics, setTopics] = useState<string[]>([]);
  const [published, setPublished] = useState(0);
  const open = (t: string) => setTopics((list) => (list.includes(t) ? list : [t, ...list]));
  // A publish from this page shows in the topic list at once, not at the next refresh.
  const publish = async (topic: string, payload: unknown) => {
    const result = await api.publishEvent(topic, payload);
    if (result.ok) setPublished((n) => n + 1);
    return result;
  };
  if (info && !info.events) {
    return (
      <section>
        <h1>Events</h1>
        <p class="notice">No durable events stream is configured for this dashboard (pass `events` to createDashboard, or set MICRO_EVENTS).</p>
      </section>
    );
  }
  return (
    <section>
      <h1>Events {info?.events && <span class="tag">{info.events}</span>}</h1>
      <div class="columns">
        <div>
          <KeptTopics onRead={open} published={published} />
          <h2>Publish an event</h2>
          <Publisher label="Publish event" send={publish} />
        </div>
        <div>
          <h2>Read a stream</h2>
          <p class="muted">Stored events from the first one, then new ones as they are published.</p>
          <FeedOpener label="Read" onOpen={open} />
          {topics.map((t) => (
            <LiveFeed key={t} title={t} path={eventsPath(t, 1)} onClose={() => setTopics((list) => list.filter((x) => x !== t))} />
          ))}
        </div>
      </div>
    </section>
  );
}

/** The topics the events backend keeps, read again every few seconds; with an in-process backend, what that means. */
function KeptTopics({ onRead, published }: { onRead: (topic: string) => void; published: number }) {
  const [kept, setKept] = useState<EventTopics | null>(null);
  const [error, setError] = useState<MicroErrorJSON | null>(null);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The next read is scheduled when this one has answered: a slow backend (JetStream listing
    // many streams) never has reads piling up.
    const load = async () => {
      const result = await api.eventTopics();
      if (!live) return;
      if (result.ok) {
        setKept(result.value);
        setError(null);
      } else setError(result.error);
      timer = setTimeout(() => void load(), REFRESH_MS);
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [published]);
  return (
    <>
      {kept?.local && (
        <p class="notice" data-testid="events-local">
          The <code>{kept.backend}</code> events backend lives in this dashboard's process: it shows only the events published through this dashboard, not those
          of other services. To see the events of the whole system, run the services and the gateway on a shared backend:{" "}
          <code>MICRO_EVENTS=nats MICRO_EVENTS_ADDRESS=127.0.0.1:4222</code> (NATS JetStream).
        </p>
      )}
      <h2>Topics kept</h2>
      {error && <ErrorBox error={error} />}
      {kept?.topics === null && <p class="muted">The {kept.backend} events backend cannot list its topics: read one by name.</p>}
      {kept?.topics?.length === 0 && <p class="muted">No events stored yet.</p>}
      {kept?.topics && kept.topics.length > 0 && (
        <table class="list" data-testid="event-topics">
          <thead>
            <tr>
              <th>Topic</th>
              <th class="num">Events</th>
              <th class="num">Last #</th>
              <th>Last at</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {kept.topics.map((t) => (
              <tr key={t.topic} data-topic={t.topic}>
                <td class="mono">{t.topic}</td>
                <td class="num">{t.events}</td>
                <td class="num">{t.lastSequence}</td>
                <td>{t.lastTimestamp ? new Date(t.lastTimestamp).toLocaleTimeString() : ""}</td>
                <td>
                  <button type="button" class="secondary small" data-testid="read-topic" onClick={() => onRead(t.topic)}>
                    Read
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
