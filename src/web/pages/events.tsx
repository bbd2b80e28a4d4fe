/** Durable events (src/events): publish, and read a topic from its first event on, live. */
import { useState } from "preact/hooks";
import { api, eventsPath, type Info } from "../api.js";
import { LiveFeed } from "./live.js";
import { FeedOpener, Publisher } from "./publisher.js";

export function EventsPage({ info }: { info: Info | null }) {
  const [topics, setTopics] = useState<string[]>([]);
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
          <h2>Publish an event</h2>
          <Publisher label="Publish event" send={api.publishEvent} />
        </div>
        <div>
          <h2>Read a stream</h2>
          <p class="muted">Stored events from the first one, then new ones as they are published.</p>
          <FeedOpener label="Read" onOpen={(t) => setTopics((list) => (list.includes(t) ? list : [t, ...list]))} />
          {topics.map((t) => (
            <LiveFeed key={t} title={t} path={eventsPath(t, 1)} onClose={() => setTopics((list) => list.filter((x) => x !== t))} />
          ))}
        </div>
      </div>
    </section>
  );
}
