/**
 * The call form: a JSON editor prefilled from the endpoint's description, then either the
 * response (or error) of one call, or a server stream's messages as they arrive.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, type Endpoint, listen, type MicroErrorJSON, streamPath } from "../api.js";
import { initialRequest, isStream } from "../shapes.js";

type Outcome =
  | { kind: "idle" }
  | { kind: "calling" }
  | { kind: "response"; value: unknown; ms: number }
  | { kind: "error"; error: MicroErrorJSON }
  | { kind: "stream"; messages: unknown[]; state: "open" | "ended" | "stopped"; error?: MicroErrorJSON };

export function CallForm({ service, endpoint }: { service: string; endpoint: Endpoint }) {
  const [text, setText] = useState(() => initialRequest(endpoint));
  const [outcome, setOutcome] = useState<Outcome>({ kind: "idle" });
  const [each, setEach] = useState(false);
  const stop = useRef<(() => void) | null>(null);
  useEffect(() => () => stop.current?.(), []);
  const parsed = parse(text);
  const streaming = isStream(endpoint);

  const call = async () => {
    if (!parsed.ok) return;
    setOutcome({ kind: "calling" });
    const started = performance.now();
    const result = await api.call(service, endpoint.name, parsed.value);
    setOutcome(result.ok ? { kind: "response", value: result.value.response, ms: performance.now() - started } : { kind: "error", error: result.error });
  };

  const openStream = () => {
    if (!parsed.ok) return;
    stop.current?.();
    const messages: unknown[] = [];
    setOutcome({ kind: "stream", messages, state: "open" });
    stop.current = listen(streamPath(service, endpoint.name, JSON.stringify(parsed.value), each), {
      message: (m) => {
        messages.push(m);
        setOutcome({ kind: "stream", messages: [...messages], state: "open" });
      },
      end: () => setOutcome({ kind: "stream", messages: [...messages], state: "ended" }),
      failure: (e) => setOutcome({ kind: "stream", messages: [...messages], state: "ended", error: e as MicroErrorJSON }),
    });
  };

  const stopStream = () => {
    stop.current?.();
    stop.current = null;
    setOutcome((o) => (o.kind === "stream" ? { ...o, state: "stopped" } : o));
  };

  return (
    <form
      class="call"
      onSubmit={(e) => {
        e.preventDefault();
        if (streaming) openStream();
        else void call();
      }}
    >
      <label for="request">Request (JSON)</label>
      <textarea
        id="request"
        name="request"
        data-testid="request"
        spellcheck={false}
        rows={Math.min(16, Math.max(4, text.split("\n").length + 1))}
        value={text}
        onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
      />
      {!parsed.ok && <p class="invalid">{parsed.error}</p>}
      {parsed.ok && each && !Array.isArray(parsed.value) && <p class="invalid">Sending each message needs a JSON array of messages.</p>}
      {streaming && (
        <label class="toggle">
          <input type="checkbox" data-testid="each" checked={each} onChange={(e) => setEach((e.target as HTMLInputElement).checked)} />
          send each element of a JSON array as a message (client and bidirectional streams)
        </label>
      )}
      <div class="actions">
        <button type="submit" data-testid="call" disabled={!parsed.ok || outcome.kind === "calling" || (each && !Array.isArray(parsed.value))}>
          {streaming ? "Open stream" : "Call"}
        </button>
        {outcome.kind === "stream" && outcome.state === "open" && (
          <button type="button" class="secondary" data-testid="stop" onClick={stopStream}>
            Stop
          </button>
        )}
        <button type="button" class="secondary" onClick={() => setText(initialRequest(endpoint))}>
          Reset
        </button>
      </div>
      <Output outcome={outcome} />
    </form>
  );
}

function parse(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: `Not valid JSON: ${(err as Error).message}` };
  }
}

function Output({ outcome }: { outcome: Outcome }) {
  switch (outcome.kind) {
    case "idle":
      return null;
    case "calling":
      return <p class="muted">Calling…</p>;
    case "response":
      return (
        <div class="result ok" data-testid="response">
          <h4>Response · {outcome.ms.toFixed(0)} ms</h4>
          <pre>{JSON.stringify(outcome.value, null, 2)}</pre>
        </div>
      );
    case "error":
      return <ErrorBox error={outcome.error} />;
    case "stream":
      return (
        <div class="result" data-testid="stream">
          <h4>
            {outcome.messages.length} message{outcome.messages.length === 1 ? "" : "s"} ·{" "}
            <span data-testid="stream-state">{outcome.state === "open" ? "streaming…" : outcome.state}</span>
          </h4>
          <ol class="messages">
            {outcome.messages.map((m, i) => (
              <li key={i}>
                <code>{JSON.stringify(m)}</code>
              </li>
            ))}
          </ol>
          {outcome.error && <ErrorBox error={outcome.error} />}
        </div>
      );
  }
}

export function ErrorBox({ error }: { error: MicroErrorJSON }) {
  return (
    <div class="result bad" data-testid="error">
      <h4>
        Error {error.code || ""} {error.status}
      </h4>
      <p>{error.detail}</p>
      <pre>{JSON.stringify(error, null, 2)}</pre>
    </div>
  );
}
