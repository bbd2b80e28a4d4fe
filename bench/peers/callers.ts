/**
 * One way to call each Node peer's echo service with the benchmark payload. Each caller does
 * what a user of that framework would: ts-micro through the registry, Moleculer through its
 * broker, NestJS through a ClientProxy, the floor through a bare socket, and the NATS floor
 * through bare nats.js request/reply.
 */
import net from "node:net";
import { lastValueFrom } from "rxjs";
import { createClient, createLogger } from "../../src/index.js";
import { frame, readFrames } from "../frames.js";
import { PAYLOAD } from "../payload.js";
import { brokerOptions } from "./moleculer-options.js";
import { NATS_FLOOR_SUBJECT } from "./nats-floor.js";

export interface Caller {
  call(): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Node peers: `ts-micro` (transport from MICRO_TRANSPORT; over gRPC when the server registered
 * protocol=grpc), `moleculer-tcp`, `moleculer-nats`, `nest`, `raw`, `natsjs`.
 */
export async function connect(peer: string, address: string): Promise<Caller> {
  switch (peer) {
    case "ts-micro":
      return microCaller();
    case "moleculer-tcp":
    case "moleculer-nats":
      return moleculerCaller(peer.slice("moleculer-".length), address);
    case "nest":
      return nestCaller(address);
    case "raw":
      return rawCaller(address);
    case "natsjs":
      return natsCaller(address);
    default:
      throw new Error(`unknown peer ${peer}`);
  }
}

function microCaller(): Caller {
  const client = createClient({ logger: createLogger({ level: "warn" }) });
  return { call: () => client.call("bench-echo", "Bench.Echo", PAYLOAD), close: async () => {} };
}

async function moleculerCaller(transporter: string, address: string): Promise<Caller> {
  const { ServiceBroker } = await import("moleculer");
  const broker = new ServiceBroker(brokerOptions(`bench-client-${process.pid}`, transporter, address, false));
  await broker.start();
  return { call: () => broker.call("bench-echo.echo", PAYLOAD), close: () => broker.stop() };
}

async function nestCaller(address: string): Promise<Caller> {
  await import("reflect-metadata");
  const { ClientProxyFactory, Transport } = await import("@nestjs/microservices");
  const [host, port] = address.split(":");
  const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host, port: Number(port) } });
  await client.connect();
  return { call: () => lastValueFrom(client.send("echo", PAYLOAD)), close: async () => client.close() };
}

/** The floor: u32-length-prefixed JSON frames pipelined on one socket, answered in order. */
async function rawCaller(address: string): Promise<Caller> {
  const [host, port] = address.split(":");
  const socket = net.connect({ host, port: Number(port), noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const waiting: Array<(body: Buffer) => void> = [];
  readFrames(socket, (body) => waiting.shift()!(body));
  // The least an RPC client must do per call: encode the request, decode the answer.
  const call = (): Promise<unknown> =>
    new Promise((resolve) => {
      waiting.push((rsp) => resolve(JSON.parse(rsp.toString())));
      socket.write(frame(Buffer.from(JSON.stringify(PAYLOAD))));
    });
  return { call, close: async () => void socket.destroy() };
}

/**
 * The NATS floor: `request` on a bare nats.js connection (its shared reply inbox), encoding the
 * request and decoding the answer as the raw floor does. The timeout only keeps a lost reply
 * from hanging a closed loop; no call comes near it.
 */
async function natsCaller(address: string): Promise<Caller> {
  const { connect } = await import("@nats-io/transport-node");
  const nc = await connect({ servers: address, name: `bench-natsjs-client-${process.pid}` });
  const call = async (): Promise<unknown> => (await nc.request(NATS_FLOOR_SUBJECT, JSON.stringify(PAYLOAD), { timeout: 30_000 })).json();
  return { call, close: () => nc.close() };
}
