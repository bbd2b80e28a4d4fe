/**
 * Moleculer echo service `bench-echo` with action `echo`. BENCH_TRANSPORTER is `tcp` (listen on
 * BENCH_ADDRESS's port) or `nats` (BENCH_ADDRESS is the NATS server). Prints "READY <address>".
 */
import { ServiceBroker } from "moleculer";
import { brokerOptions, SERVER_NODE } from "../moleculer-options.js";

const transporter = process.env.BENCH_TRANSPORTER ?? "tcp";
const address = process.env.BENCH_ADDRESS ?? "127.0.0.1:4222";
const broker = new ServiceBroker(brokerOptions(SERVER_NODE, transporter, address, true));
broker.createService({ name: "bench-echo", actions: { echo: (ctx) => ctx.params } });
await broker.start();
process.stdout.write(`READY ${address}\n`);
process.on("SIGTERM", () => void broker.stop().then(() => process.exit(0)));
