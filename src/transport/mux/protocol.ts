/**
 * What each end of a mux connection may receive. The frame reader has checked lengths, the type
 * and the header block; these rules check the rest of a frame against who sent it, before any
 * field is used: a frame breaking them is a protocol error and ends the connection.
 *
 * - Stream ids are chosen by the client and odd (1, 3, 5, …); 0 is the connection itself. Ping,
 *   Pong and GoAway are about the connection (stream 0); every other frame is about a call.
 * - Request, Data, End, Window, Cancel, Ping and Pong flow client → server; Response, Refused and
 *   GoAway only server → client (Data, End, Window, Cancel, Ping and Pong both ways).
 * - The only flag is Stream, on a Request. A Window's body is its u32 increment; Cancel, End,
 *   Refused, GoAway, Ping and Pong carry no body.
 *
 * Header references (header-refs.ts; docs/mux.md, "Header references"), negotiated in headers
 * that versions without them ignore, so the frames above are unchanged:
 * - the client's first Ping carries `Mux-Features: header-refs`; a server that takes references
 *   answers that Pong with `Mux-Header-Refs: <slots> <maxValueBytes>`; an older server answers a
 *   plain Pong and an older client never asks.
 * - Only after that offer may a client's Request carry `Mux-Ref-Set: Name=slot[,…]` (store this
 *   request's value of header Name, sent in full beside it, in slot 1..slots of this
 *   connection, replacing what it held) or `Mux-Ref: Name=slot[,…]` (header Name, absent from
 *   the block, has the value stored in that slot). The client picks slots; the server applies
 *   them in frame order, so its table always matches the client's. The server removes these
 *   headers before the handler sees the request; it reads them only on a connection whose client
 *   asked (elsewhere they are ordinary headers), and a client that asked refuses them as a
 *   caller's metadata. A slot not set on this connection is answered
 *   401 (Response, or End for a stream), a malformed list or an oversized value 400: the
 *   handler is not called and the connection keeps serving.
 */
import { type Frame, FrameFlag, FrameType } from "../framing/frame.js";

/** Who sent a frame. */
export type Sender = "client" | "server";

const NAMES = ["?", "Request", "Response", "Cancel", "GoAway", "Refused", "Ping", "Pong", "Data", "End", "Window"];

/** Why `frame` from `from` breaks the protocol, or undefined. */
export function frameProblem(frame: Frame, from: Sender): string | undefined {
  const type = frame.type;
  const name = NAMES[type];
  if (from === "client" ? type === FrameType.Response || type === FrameType.Refused || type === FrameType.GoAway : type === FrameType.Request) {
    return `a ${from} may not send ${name} frames`;
  }
  if (frame.flags !== 0 && (type !== FrameType.Request || (frame.flags & ~FrameFlag.Stream) !== 0)) return `flags ${frame.flags} on a ${name} frame`;
  const stream = frame.stream;
  if (type === FrameType.Ping || type === FrameType.Pong || type === FrameType.GoAway) {
    if (stream !== 0) return `${name} frame on stream ${stream} (connection frames use stream 0)`;
  } else if ((stream & 1) === 0) {
    return `${name} frame on stream ${stream} (calls use odd stream ids)`;
  }
  if (type === FrameType.Window) return frame.body.length === 4 ? undefined : `Window frame with a ${frame.body.length}-byte body (4 expected)`;
  if (type !== FrameType.Request && type !== FrameType.Response && type !== FrameType.Data && frame.body.length > 0) {
    return `${name} frame with a ${frame.body.length}-byte body (none expected)`;
  }
  return undefined;
}
