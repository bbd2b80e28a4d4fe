/**
 * How every transport runs its RequestHandler: one place for the two ways a handler may answer
 * (see RequestHandler) and for what a handler that fails instead of answering gets.
 */
import { ErrorId, MicroError } from "../errors/errors.js";
import type { Logger } from "../logger/logger.js";
import { MicroHeader } from "../metadata/headers.js";
import type { IncomingCall, Message, RequestHandler } from "./transport.js";

const EMPTY = new Uint8Array(0);

/**
 * Runs `handler` for one request and passes its answer to `respond`, whether the handler calls
 * `respond` itself or returns a promise. A handler that throws or rejects is a bug (the RPC
 * server turns every failure into a Micro-Error response): it is logged, and the caller gets a
 * 500 rather than no answer.
 *
 * `respond` always runs after the handler has returned, as a promise's callback would: an answer
 * given at once (a refusal, a method that is not async) is passed on in a microtask. A transport
 * may be in the middle of reading its input when it calls the handler (the HTTP parser's loop),
 * and answering can resume that reading.
 */
export function answerCall(handler: RequestHandler, request: Message, call: IncomingCall, respond: (response: Message) => void, log: Logger): void {
  let returned = false;
  const answer = (response: Message): void => {
    if (returned) respond(response);
    else queueMicrotask(() => respond(response));
  };
  let reply: Promise<Message> | undefined;
  try {
    reply = handler(request, call, answer);
  } catch (err) {
    reply = Promise.reject(err);
  }
  returned = true;
  reply?.then(respond, (err: unknown) => {
    log.error("request handler failed", { err: err instanceof Error ? err.stack : String(err) });
    respond({ header: { [MicroHeader.Error]: MicroError.internal(ErrorId.server, "internal server error").toString() }, body: EMPTY });
  });
}
