/** Topics: publish through the broker, and watch topics live (each subscription ends with the page). */
import { useState } from "preact/hooks";
import { api, subscribePath } from "../api.js";
import { LiveFeed } from "./live.js";
import { FeedOpener, Publisher } from "./publisher.js";

export function TopicsPage() {
  const [topics, setTopics] = useState<string[]>([]);
  return (
    <section>
      <h1>Topics</h1>
      <div class="columns">
        <div>
          <h2>Publish</h2>
          <Publisher label="Publish" send={api.publish} />
        </div>
        <div>
          <h2>Subscribe</h2>
          <p class="muted">Every message published to the topic from now on, by any service.</p>
          <FeedOpener label="Subscribe" onOpen={(t) => setTopics((list) => (list.includes(t) ? list : [t, ...list]))} />
          {topics.map((t) => (
            <LiveFeed key={t} title={t} path={subscribePath(t)} onClose={() => setTopics((list) => list.filter((x) => x !== t))} />
          ))}
        </div>
      </div>
    </section>
  );
}
