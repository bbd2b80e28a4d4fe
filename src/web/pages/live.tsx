/** A live feed (a topic subscription or a durable events consumer) shown as a growing list. */
import { useEffect, useState } from "preact/hooks";
import { type Delivery, listen, type MicroErrorJSON } from "../api.js";
import { ErrorBox } from "./call.js";

const KEEP = 200;

export function LiveFeed({ title, path, onClose }: { title: string; path: string; onClose: () => void }) {
  const [items, setItems] = useState<Delivery[]>([]);
  const [state, setState] = useState<"connecting" | "live" | "ended">("connecting");
  const [error, setError] = useState<MicroErrorJSON | null>(null);
  useEffect(
    () =>
      listen(path, {
        subscribed: () => setState("live"),
        message: (m) => setItems((list) => [m as Delivery, ...list].slice(0, KEEP)),
        failure: (e) => {
          setError(e as MicroErrorJSON);
          setState("ended");
        },
      }),
    [path],
  );
  return (
    <div class="feed" data-testid="feed" data-topic={title}>
      <div class="feed-head">
        <b>{title}</b>
        <span class={`badge ${state === "live" ? "ok" : state === "ended" ? "bad" : ""}`} data-testid="feed-state">
          {state}
        </span>
        <button type="button" class="secondary small" onClick={onClose}>
          Close
        </button>
      </div>
      {error && <ErrorBox error={error} />}
      {items.length === 0 ? (
        <p class="muted">Waiting for messages…</p>
      ) : (
        <ol class="messages" reversed>
          {items.map((m, i) => (
            <li key={m.id ?? i}>
              <span class="when">{(m.received ?? m.timestamp ?? "").slice(11, 23)}</span>
              {m.sequence !== undefined && <span class="tag">#{m.sequence}</span>}
              <code>{JSON.stringify(m.payload)}</code>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
