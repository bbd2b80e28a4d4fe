/** Topics: publish through the broker, and watch topics live (each subscription ends with the page). */
import { useState } from "preact/hooks";
import { api, type ServiceRecord, subscribePath } from "../api.js";
import { href } from "../route.js";
import { subscriptions } from "../shapes.js";
import { LiveFeed } from "./live.js";
import { FeedOpener, Publisher } from "./publisher.js";

export function TopicsPage({ services }: { services: ServiceRecord[] | null }) {
  const [topics, setTopics] = useState<string[]>([]);
  const open = (t: string) => setTopics((list) => (list.includes(t) ? list : [t, ...list]));
  const known = subscriptions(services ?? []);
  return (
    <section>
      <h1>Topics</h1>
      <div class="columns">
        <div>
          <h2>Publish</h2>
          <Publisher label="Publish" send={api.publish} />
          <h2>Topics services subscribe to</h2>
          {known.length === 0 ? (
            <p class="muted">No service publishes a subscription in the registry.</p>
          ) : (
            <table class="list" data-testid="known-topics">
              <thead>
                <tr>
                  <th>Topic</th>
                  <th>Service</th>
                  <th>Queue</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {known.map((t) => (
                  <tr key={`${t.topic}/${t.service}/${t.handler}`} data-topic={t.topic}>
                    <td class="mono">{t.topic}</td>
                    <td>
                      <a href={href.service(t.service)}>{t.service}</a>
                    </td>
                    <td>{t.queue ?? ""}</td>
                    <td>
                      <button type="button" class="secondary small" onClick={() => open(t.topic)}>
                        Watch
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        <div>
          <h2>Subscribe</h2>
          <p class="muted">Every message published to the topic from now on, by any service.</p>
          <FeedOpener label="Subscribe" onOpen={open} />
          {topics.map((t) => (
            <LiveFeed key={t} title={t} path={subscribePath(t)} onClose={() => setTopics((list) => list.filter((x) => x !== t))} />
          ))}
        </div>
      </div>
    </section>
  );
}
