/**
 * A ts-micro echo service on the default stack; prints "READY host:port". It loads the package's
 * entry (dist/bundle, `npm run build:bundle`), the code `import "ts-micro"` gives a user, so that
 * start-up and memory are what a user's service pays.
 */
import type * as TsMicro from "../../src/index.js";

const { createService } = (await import(new URL("../../bundle/index.js", import.meta.url).href)) as typeof TsMicro;

class Bench {
  async Echo(req: unknown): Promise<unknown> {
    return req;
  }

  /** Streams `count` messages of `size` bytes (application/octet-stream). */
  async *Produce(req: Uint8Array): AsyncIterable<Uint8Array> {
    const { size, count } = JSON.parse(Buffer.from(req).toString()) as { size: number; count: number };
    const chunk = Buffer.alloc(size, 7);
    for (let i = 0; i < count; i++) yield chunk;
  }
}

const service = createService({ name: "bench-echo" });
service.handle(new Bench());
await service.start();
process.stdout.write(`READY ${service.address}\n`);
process.on("SIGTERM", () => void service.stop().then(() => process.exit(0)));
