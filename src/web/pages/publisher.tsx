/** A topic + JSON message form, shared by the Topics (broker) and Events (durable) pages. */
import { useState } from "preact/hooks";
import type { MicroErrorJSON, Result } from "../api.js";
import { ErrorBox } from "./call.js";

export function Publisher({ send, label }: { send: (topic: string, message: unknown) => Promise<Result<unknown>>; label: string }) {
  const [topic, setTopic] = useState("");
  const [text, setText] = useState('{\n  "hello": "world"\n}');
  const [status, setStatus] = useState<{ ok: true; topic: string } | { ok: false; error: MicroErrorJSON } | null>(null);
  let message: unknown;
  let invalid = "";
  try {
    message = JSON.parse(text);
  } catch (err) {
    invalid = `Not valid JSON: ${(err as Error).message}`;
  }
  return (
    <form
      class="call"
      onSubmit={async (e) => {
        e.preventDefault();
        const result = await send(topic.trim(), message);
        setStatus(result.ok ? { ok: true, topic: topic.trim() } : { ok: false, error: result.error });
      }}
    >
      <label for="publish-topic">Topic</label>
      <input
        id="publish-topic"
        data-testid="publish-topic"
        value={topic}
        placeholder="user.created"
        onInput={(e) => setTopic((e.target as HTMLInputElement).value)}
      />
      <label for="publish-message">Message (JSON)</label>
      <textarea
        id="publish-message"
        data-testid="publish-message"
        rows={5}
        spellcheck={false}
        value={text}
        onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
      />
      {invalid && <p class="invalid">{invalid}</p>}
      <div class="actions">
        <button type="submit" data-testid="publish" disabled={!topic.trim() || invalid !== ""}>
          {label}
        </button>
        {status?.ok && (
          <span class="muted" data-testid="published">
            sent to {status.topic}
          </span>
        )}
      </div>
      {status && !status.ok && <ErrorBox error={status.error} />}
    </form>
  );
}

/** A topic input that adds a live feed. */
export function FeedOpener({ onOpen, label }: { onOpen: (topic: string) => void; label: string }) {
  const [topic, setTopic] = useState("");
  return (
    <form
      class="inline"
      onSubmit={(e) => {
        e.preventDefault();
        if (topic.trim()) onOpen(topic.trim());
        setTopic("");
      }}
    >
      <input data-testid="subscribe-topic" value={topic} placeholder="topic" onInput={(e) => setTopic((e.target as HTMLInputElement).value)} />
      <button type="submit" data-testid="subscribe" disabled={!topic.trim()}>
        {label}
      </button>
    </form>
  );
}
