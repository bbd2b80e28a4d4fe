/**
 * When a handler's work ends and how: a unary handler ends when its promise settles; a stream
 * handler returns an AsyncIterable, and its work ends when the iteration does. Metrics and spans
 * both need that moment and the status code it ended with.
 */
import { MicroError } from "../errors/errors.js";

/** The status code of an outcome: 200, a MicroError's own code, or 500 for anything else thrown. */
export function statusOf(err: unknown): number {
  if (err === undefined) return 200;
  return err instanceof MicroError && Number.isInteger(err.code) && err.code > 0 ? err.code : 500;
}

/** `iterable`, calling `done` once its iteration ends (finished, failed or abandoned); `around` runs each step. */
export async function* observeIterable(
  iterable: AsyncIterable<unknown>,
  done: (err: unknown) => void,
  around: (<T>(step: () => Promise<T>) => Promise<T>) | undefined,
): AsyncGenerator<unknown> {
  const iterator = iterable[Symbol.asyncIterator]();
  let failure: unknown;
  try {
    for (;;) {
      const step = around ? await around(() => iterator.next()) : await iterator.next();
      if (step.done) return;
      yield step.value;
    }
  } catch (err) {
    failure = err;
    throw err;
  } finally {
    // Abandoned by the reader (the caller went away): let the handler's finally blocks run.
    await iterator.return?.().catch(() => {});
    done(failure);
  }
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}
