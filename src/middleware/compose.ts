/**
 * Middleware composition, the one place wrappers are applied: client call wrappers, server
 * handler wrappers and subscriber wrappers are all functions from a function to a function of
 * the same type, as in Go Micro.
 */
export type Wrapper<F> = (next: F) => F;

/**
 * Wraps `base` in `wrappers`, the first given outermost: `compose(f, [a, b])` is `a(b(f))`, so
 * a call passes through `a`, then `b`, then reaches `f`.
 */
export function compose<F>(base: F, wrappers: readonly Wrapper<F>[] | undefined): F {
  let composed = base;
  if (wrappers) for (let i = wrappers.length - 1; i >= 0; i--) composed = wrappers[i](composed);
  return composed;
}
