/**
 * The gRPC benchmark's server: `node grpc-echo.js <micro|grpc-js|connect>` serves bench.Bench
 * (Echo, and Stream of `count` payloads) and prints "READY host:port".
 */
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createService } from "../../src/index.js";
import { BENCH_PROTO, ConnectBench } from "../grpc-peers.js";
import { PAYLOAD } from "../payload.js";

const kind = process.argv[2] ?? process.env.GRPC_KIND;

class Bench {
  async Echo(req: unknown): Promise<unknown> {
    return req;
  }
  async *Stream(req: { count: number }): AsyncIterable<unknown> {
    for (let i = 0; i < req.count; i++) yield PAYLOAD;
  }
}

async function micro(): Promise<string> {
  const service = createService({ name: "bench-grpc", server: "grpc", address: "127.0.0.1:0", grpc: { proto: BENCH_PROTO } });
  service.handle(new Bench());
  await service.start();
  process.on("SIGTERM", () => void service.stop().then(() => process.exit(0)));
  return service.address!;
}

async function grpcJs(): Promise<string> {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(BENCH_PROTO, { keepCase: true, defaults: true })).bench as grpc.GrpcObject;
  const server = new grpc.Server();
  server.addService((pkg.Bench as unknown as { service: grpc.ServiceDefinition }).service, {
    Echo: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, call.request),
    Stream: (call: grpc.ServerWritableStream<{ count: number }, unknown>) => {
      for (let i = 0; i < call.request.count; i++) call.write(PAYLOAD);
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return `127.0.0.1:${port}`;
}

async function connect(): Promise<string> {
  const handler = connectNodeAdapter({
    grpc: true,
    grpcWeb: false,
    connect: false,
    routes: (router) =>
      router.service(ConnectBench, {
        echo: (req) => req,
        async *stream(req) {
          for (let i = 0; i < req.count; i++) yield PAYLOAD;
        },
      }),
  });
  const server = http2.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const address = kind === "micro" ? await micro() : kind === "grpc-js" ? await grpcJs() : await connect();
process.stdout.write(`READY ${address}\n`);
