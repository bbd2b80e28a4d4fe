/** Streams for the streaming tests: one from given items, and all of one gathered into an array. */

/** A request stream of `items`, in order. */
export async function* messages<T>(...items: T[]): AsyncIterable<T> {
  for (const item of items) yield item;
}

/** Reads `stream` to its end. */
export async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}
