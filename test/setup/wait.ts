/** Waiting in tests for something to happen: polled, and bounded by a timeout, never a fixed sleep. */
import assert from "node:assert/strict";

/** Whether `check` holds within `timeout` ms (polled every `every` ms). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeout: number, every = 50): Promise<boolean> {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, every));
  }
  return check();
}

/** Waits until `check` holds; fails the test after `timeout` ms, saying `what` (a function is called only then). */
export async function until(check: () => boolean, timeout: number, what: string | (() => string)): Promise<void> {
  if (!(await waitFor(check, timeout, 10))) assert.fail(`timed out after ${timeout} ms: ${typeof what === "string" ? what : what()}`);
}

/** Retries `check` every `every` ms until it stops throwing; after `timeout` ms rethrows its last error. */
export async function eventually(check: () => Promise<void> | void, timeout = 3_000, every = 25): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() >= deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}
