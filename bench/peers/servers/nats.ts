/**
 * The NATS floor: a bare nats.js (@nats-io/transport-node) subscriber on `bench.natsjs.echo` that
 * answers every request with its body, no framework at all, like the raw node:net floor.
 * BENCH_ADDRESS is the NATS server. Prints "READY <address>" once the subscription is on the server.
 */
import { connect } from "@nats-io/transport-node";
import { NATS_FLOOR_SUBJECT } from "../nats-floor.js";

const address = process.env.BENCH_ADDRESS ?? "127.0.0.1:4222";
const nc = await connect({ servers: address, name: "bench-natsjs-server" });
nc.subscribe(NATS_FLOOR_SUBJECT, {
  callback: (err, msg) => {
    if (!err) msg.respond(msg.data);
  },
});
// The subscription is live once the server has seen it: a flush round-trips after SUB.
await nc.flush();
process.stdout.write(`READY ${address}\n`);
process.on("SIGTERM", () => void nc.drain().then(() => process.exit(0)));
