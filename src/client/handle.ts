/**
 * What a typed proxy method returns: a call that is both awaitable and iterable, started by how
 * it is used. `await proxy.Greeter.Hello(req)` makes a unary call; `for await (… of
 * proxy.Greeter.Count(req))` opens a stream; `await proxy.Greeter.Sum(asyncIterable)` streams the
 * requests and resolves with the response. The handler's types say which use is right, so the
 * client needs no knowledge of the endpoint at run time.
 */
export class CallHandle<T> implements PromiseLike<T>, AsyncIterable<T> {
  private promise: Promise<T> | undefined;

  constructor(
    private readonly unary: () => Promise<T>,
    private readonly stream: () => AsyncIterable<T>,
    private readonly streamsInput: boolean,
  ) {}

  // biome-ignore lint/suspicious/noThenProperty: a CallHandle is a deliberate thenable, so `await proxy.Service.Method(req)` starts a unary call
  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.start().then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.start().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.start().finally(onFinally);
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.stream()[Symbol.asyncIterator]();
  }

  private start(): Promise<T> {
    this.promise ??= this.streamsInput ? lastOf(this.stream()) : this.unary();
    return this.promise;
  }
}

/** The last message of a stream: a client stream's single response. */
async function lastOf<T>(stream: AsyncIterable<T>): Promise<T> {
  let last: T | undefined;
  for await (const message of stream) last = message;
  return last as T;
}

export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}
