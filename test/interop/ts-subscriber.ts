/**
 * A ts-micro service subscribed to INTEROP_TOPIC (in queue INTEROP_QUEUE when set), on the default
 * (HTTP, Go Micro format) broker. Prints "READY <address>", then one JSON line per event.
 */
import { createService } from "../../src/index.js";

const topic = process.env.INTEROP_TOPIC ?? "interop.events";
const service = createService({ name: process.env.INTEROP_NAME ?? "ts-subscriber" });
service.subscribe<{ id: number; text: string }>(
  topic,
  (event, ctx) => {
    process.stdout.write(`${JSON.stringify({ event, topic: ctx.topic })}\n`);
  },
  process.env.INTEROP_QUEUE ? { queue: process.env.INTEROP_QUEUE } : {},
);
await service.start();
process.stdout.write(`READY ${service.address}\n`);
process.once("SIGTERM", () => void service.stop().then(() => process.exit(0)));
