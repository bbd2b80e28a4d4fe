/**
 * The call form: a JSON editor prefilled from the endpoint's description, then either the
 * response (or error) of one call, or a stream's messages as they arrive. A stream is opened with
 * one request (server streams), with each element of a JSON array as a message, or interactively
 * (client and bidirectional streams): the editor then sends one message at a time until the
 * sending side is ended, and the answers show as they come.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, type Endpoint, listen, type MicroErrorJSON, openStreamSocket, type StreamSocket, streamPath } from "../api.js";
import { initialRequest, isStream } from "../shapes.js";

type Outcome =
  | { kind: "idle" }
  | { kind: "calling" }
  | { kind: "response"; value: unknown; ms: number }
  | { kind: "error"; error: MicroErrorJSON }
  | {
      kind: "stream";
      messages: unknown[];
      state: "connecting" | "open" | "ended" | "stopped";
      error?: MicroErrorJSON;
      /** Interactive streams: the messages sent, and whether more may be. */
      sent?: unknown[];
      sending?: boolean;
    };

/** How a stream's requests are sent: its one request, each element of an array, or one by one from the editor. */
type Mode = "one" | "each" | "interactive";

export function CallForm({ service, endpoint }: { service: string; endpoint: Endpoint }) {
  const [text, setText] = useState(() => initialRequest(endpoint));
  const [outcome, setOutcome] = useState<Outcome>({ kind: "idle" });
  const [mode, setMode] = useState<Mode>("one");
  const stop = useRef<(() => void) | null>(null);
  const socket = useRef<StreamSocket | null>(null);
  useEffect(() => () => stop.current?.(), []);
  const parsed = parse(text);
  const streaming = isStream(endpoint);
  const each = mode === "each";
  const live = outcome.kind === "stream" && outcome.sending === true && outcome.state !== "connecting";

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

  const openSocket = () => {
    stop.current?.();
    const messages: unknown[] = [];
    const sent: unknown[] = [];
    // Each update copies the lists, so Preact sees a new outcome; `sending` follows the last one set.
    let sending = true;
    const show = (state: "connecting" | "open" | "ended", error?: MicroErrorJSON) =>
      setOutcome({ kind: "stream", messages: [...messages], sent: [...sent], sending, state, error });
    show("connecting");
    const ws = openStreamSocket(service, endpoint.name, {
      open: () => show("open"),
      message: (m) => {
        messages.push(m);
        show("open");
      },
      end: () => {
        sending = false;
        show("ended");
      },
      failure: (e) => {
        sending = false;
        show("ended", e);
      },
    });
    socket.current = {
      send: (m) => {
        ws.send(m);
        sent.push(m);
        show("open");
      },
      end: () => {
        ws.end();
        sending = false;
        show("open");
      },
      close: ws.close,
    };
    stop.current = () => {
      ws.close();
      socket.current = null;
    };
  };

  const stopStream = () => {
    stop.current?.();
    stop.current = null;
    setOutcome((o) => (o.kind === "stream" ? { ...o, state: "stopped", sending: false } : o));
  };

  const submit = () => {
    if (!streaming) return void call();
    if (live && parsed.ok) return socket.current?.send(parsed.value);
    if (mode === "interactive") return openSocket();
    openStream();
  };

  return (
    <form
      class="call"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
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
        <fieldset class="modes" disabled={live}>
          <legend>Send</legend>
          <ModeChoice mode="one" current={mode} set={setMode} label="the request above, once (server streams)" />
          <ModeChoice mode="interactive" current={mode} set={setMode} label="messages one by one, ending when you say (client and bidirectional streams)" />
          <ModeChoice mode="each" current={mode} set={setMode} label="each element of a JSON array as a message, then end" />
        </fieldset>
      )}
      <div class="actions">
        {live ? (
          <>
            <button type="submit" data-testid="send" disabled={!parsed.ok}>
              Send message
            </button>
            <button type="button" class="secondary" data-testid="end" onClick={() => socket.current?.end()}>
              End sending
            </button>
          </>
        ) : (
          <button
            type="submit"
            data-testid="call"
            disabled={
              !parsed.ok ||
              outcome.kind === "calling" ||
              (outcome.kind === "stream" && outcome.state === "connecting") ||
              (each && !Array.isArray(parsed.value))
            }
          >
            {streaming ? "Open stream" : "Call"}
          </button>
        )}
        {outcome.kind === "stream" && (outcome.state === "open" || outcome.state === "connecting") && (
          <button type="button" class="secondary" data-testid="stop" onClick={stopStream}>
            {outcome.sent ? "Close" : "Stop"}
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

function ModeChoice({ mode, current, set, label }: { mode: Mode; current: Mode; set: (m: Mode) => void; label: string }) {
  return (
    <label class="toggle">
      <input type="radio" name="mode" data-testid={mode} checked={current === mode} onChange={() => set(mode)} />
      {label}
    </label>
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
            {outcome.sent && (
              <>
                <span data-testid="sending">
                  {outcome.sent.length} sent{outcome.sending ? "" : ", sending ended"}
                </span>{" "}
                ·{" "}
              </>
            )}
            {outcome.messages.length} message{outcome.messages.length === 1 ? "" : "s"} · <span data-testid="stream-state">{stateText(outcome.state)}</span>
          </h4>
          {outcome.sent && outcome.sent.length > 0 && (
            <ol class="messages sent" data-testid="sent">
              {outcome.sent.map((m, i) => (
                <li key={i}>
                  <span class="tag">sent</span> <code>{JSON.stringify(m)}</code>
                </li>
              ))}
            </ol>
          )}
          <ol class="messages" data-testid="received">
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

function stateText(state: "connecting" | "open" | "ended" | "stopped"): string {
  if (state === "open") return "streaming…";
  if (state === "connecting") return "opening…";
  return state;
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
