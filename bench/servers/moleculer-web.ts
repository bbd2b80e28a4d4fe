/**
 * moleculer-web in front of the Moleculer echo service (bench/peers/servers/moleculer.ts) over
 * the TCP transporter, whose port is BENCH_ADDRESS's: `POST /api/echo` calls `bench-echo.echo`.
 * Prints "READY <url>" once the echo service is discovered.
 */
import { ServiceBroker } from "moleculer";
import ApiGateway from "moleculer-web";
import { brokerOptions } from "../peers/moleculer-options.js";

const address = process.env.BENCH_ADDRESS ?? "127.0.0.1:4000";
const broker = new ServiceBroker(brokerOptions("bench-web", "tcp", address, false));
const api = broker.createService({
  name: "api",
  mixins: [ApiGateway],
  settings: {
    port: 0,
    ip: "127.0.0.1",
    routes: [{ path: "/api", aliases: { "POST echo": "bench-echo.echo" }, bodyParsers: { json: true } }],
    logRequest: null,
    logResponse: null,
  },
});
await broker.start();
await broker.waitForServices(["bench-echo"]);
const server = (api as unknown as { server: import("node:http").Server }).server;
const { port } = server.address() as import("node:net").AddressInfo;
process.stdout.write(`READY http://127.0.0.1:${port}\n`);
process.on("SIGTERM", () => void broker.stop().then(() => process.exit(0)));
