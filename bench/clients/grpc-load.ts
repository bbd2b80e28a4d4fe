/**
 * The gRPC benchmark's client, run as its own process:
 *   node grpc-load.js <micro|micro-json|grpc-js|connect|micro-mux> <address> unary <concurrency> <warmup s> <seconds>
 *   node grpc-load.js <micro|grpc-js|connect> <address> stream <count>
 * Prints one JSON line. `micro` is the ts-micro client over gRPC (protobuf from the .proto);
 * `micro-mux` the ts-micro client on its default transport against bench/servers/micro-echo.ts.
 */
import { createPromiseClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Codecs, ProtoSchema, protobufCodec } from "../../src/codec/index.js";
import { createClient, createLogger } from "../../src/index.js";
import { BENCH_PROTO, ConnectBench } from "../grpc-peers.js";
import { closedLoop, PAYLOAD } from "../payload.js";

const [kind, address, mode, ...rest] = process.argv.slice(2);

interface Caller {
  unary(): Promise<unknown>;
  /** Opens a stream of `count` messages and resolves with how many arrived. */
  stream(count: number): Promise<number>;
}

function microCaller(): Caller {
  const schema = new ProtoSchema({ files: [BENCH_PROTO] });
  const client = createClient({ logger: createLogger({ level: "warn" }), codecs: new Codecs([protobufCodec(schema)]), contentType: "application/protobuf" });
  const options = { address: `grpc://${address}` };
  return {
    unary: () => client.call("bench", "Bench.Echo", PAYLOAD, options),
    async stream(count) {
      let n = 0;
      for await (const _ of client.stream("bench", "Bench.Stream", { count }, options)) n++;
      return n;
    },
  };
}

function muxCaller(): Caller {
  const client = createClient({ logger: createLogger({ level: "warn" }) });
  return {
    unary: () => client.call("bench-echo", "Bench.Echo", PAYLOAD),
    stream: () => Promise.reject(new Error("mux streams are measured by bench/stream.ts")),
  };
}

function grpcJsCaller(): Caller {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(BENCH_PROTO, { keepCase: true, defaults: true })).bench as grpc.GrpcObject;
  type BenchClient = grpc.Client & {
    Echo(req: unknown, cb: (err: grpc.ServiceError | null, rsp?: unknown) => void): void;
    Stream(req: unknown): grpc.ClientReadableStream<unknown>;
  };
  const Ctor = pkg.Bench as unknown as new (address: string, creds: grpc.ChannelCredentials) => BenchClient;
  const client = new Ctor(address, grpc.credentials.createInsecure());
  return {
    unary: () => new Promise((resolve, reject) => client.Echo(PAYLOAD, (err, rsp) => (err ? reject(err) : resolve(rsp)))),
    async stream(count) {
      let n = 0;
      for await (const _ of client.Stream({ count })) n++;
      return n;
    },
  };
}

function connectCaller(): Caller {
  const client = createPromiseClient(ConnectBench, createGrpcTransport({ baseUrl: `http://${address}`, httpVersion: "2" }));
  return {
    unary: () => client.echo(PAYLOAD),
    async stream(count) {
      let n = 0;
      for await (const _ of client.stream({ count })) n++;
      return n;
    },
  };
}

/** The ts-micro client over gRPC with its default Content-Type, application/json (application/grpc+json). */
function microJsonCaller(): Caller {
  const client = createClient({ logger: createLogger({ level: "warn" }) });
  const options = { address: `grpc://${address}` };
  return {
    unary: () => client.call("bench", "Bench.Echo", PAYLOAD, options),
    stream: () => Promise.reject(new Error("streams are measured with protobuf")),
  };
}

const callers: Record<string, () => Caller> = {
  micro: microCaller,
  "micro-json": microJsonCaller,
  "micro-mux": muxCaller,
  "grpc-js": grpcJsCaller,
  connect: connectCaller,
};
const caller = callers[kind]();

if (mode === "stream") {
  const count = Number(rest[0]);
  await caller.stream(1_000); // warm up
  const started = process.hrtime.bigint();
  const received = await caller.stream(count);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({ bench: "grpc-stream", framework: kind, messages: received, msgs_per_s: Math.round(received / seconds) })}\n`);
  process.exit(received === count ? 0 : 1);
} else {
  const [concurrency, warmup, seconds] = rest.map(Number);
  const result = await closedLoop(() => caller.unary(), concurrency, warmup, seconds);
  process.stdout.write(`${JSON.stringify({ bench: "grpc", framework: kind, transport: kind === "micro-mux" ? "mux" : "grpc", ...result })}\n`);
  process.exit(0);
}
