/**
 * An OpenTelemetry `Context` that is a chain of entries: `setValue` adds one small object in
 * front of its parent. The API's own context (`ROOT_CONTEXT.setValue`) copies its whole map and
 * makes three closures on every `setValue`, about a tenth of a traced call's cost on a small
 * handler; a server span's context is made on every call. Contexts are immutable either way, and
 * the chain is as long as the nesting of spans and values set, which the SDK and instrumentation
 * read through `getValue` like any other context.
 */
import type { Context } from "@opentelemetry/api";

/** No key of a caller's: the key of a chain's first link, which holds nothing. */
const NONE = Symbol("ts-micro: no context key");
/**
 * Links past which a chain is folded into its base: a handler that sets the same key over and over
 * (a value per stream message, say) would otherwise keep every old value and slow every read.
 */
const MAX_LINKS = 16;

class ChainedContext implements Context {
  constructor(
    private readonly parent: ChainedContext | undefined,
    private readonly base: Context,
    private readonly key: symbol,
    private readonly value: unknown,
    private readonly links: number,
  ) {}

  getValue(key: symbol): unknown {
    for (let link: ChainedContext | undefined = this; link; link = link.parent) if (link.key === key) return link.value;
    return this.base.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    if (this.links >= MAX_LINKS) return chainedContext(this.folded()).setValue(key, value);
    return new ChainedContext(this, this.base, key, value, this.links + 1);
  }

  deleteValue(key: symbol): Context {
    // Shadows the key: getValue answers undefined, as for a key never set.
    return this.getValue(key) === undefined ? this : this.setValue(key, undefined);
  }

  /** The base with this chain's values set on it, the nearest value of each key. */
  private folded(): Context {
    const seen = new Set<symbol>([NONE]);
    let context = this.base;
    for (let link: ChainedContext | undefined = this; link; link = link.parent) {
      if (seen.has(link.key)) continue;
      seen.add(link.key);
      context = link.value === undefined ? context.deleteValue(link.key) : context.setValue(link.key, link.value);
    }
    return context;
  }
}

/** `base` (ROOT_CONTEXT, say), with values then set on it chained rather than copied. */
export function chainedContext(base: Context): Context {
  return new ChainedContext(undefined, base, NONE, undefined, 0);
}
