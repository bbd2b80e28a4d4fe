/** A ts-micro echo service on the default stack; prints "READY host:port". */
import { createService } from "../../src/index.js";

class Bench {
  async Echo(req: unknown): Promise<unknown> {
    return req;
  }
}

const service = createService({ name: "bench-echo" });
service.handle(new Bench());
await service.start();
process.stdout.write(`READY ${service.address}\n`);
process.on("SIGTERM", () => void service.stop().then(() => process.exit(0)));
