/**
 * The greeter example as README and docs/grpc.md run it: `MICRO_SERVER=grpc npm start` (here the
 * built server.js in its own process) serves over gRPC with examples/greeter/greeter.proto; the
 * micro CLI calls it by name, and a grpc-js client with the example's .proto calls it by address.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { distRoot, runCli, tempRegistry } from "../process/harness.js";

const GREETER_PROTO = path.resolve(distRoot, "..", "examples", "greeter", "greeter.proto");

describe("the greeter example with MICRO_SERVER=grpc", () => {
  const registry = tempRegistry();
  const env = { MICRO_REGISTRY: "local", MICRO_REGISTRY_ADDRESS: registry };
  let child: ChildProcess;
  let address = "";

  before(async () => {
    child = spawn(process.execPath, [path.join(distRoot, "examples", "greeter", "server.js")], {
      env: { ...process.env, ...env, MICRO_SERVER: "grpc", MICRO_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const deadline = Date.now() + 15_000;
    for (;;) {
      const started = /"address":"([^"]+)".*"msg":"service started"/.exec(output);
      if (started) {
        address = started[1];
        break;
      }
      if (child.exitCode !== null) throw new Error(`the greeter exited with ${child.exitCode}; output:\n${output}`);
      if (Date.now() > deadline) throw new Error(`the greeter did not start in 15 s; output:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });
  after(() => {
    child?.kill("SIGKILL");
  });

  it("registers a gRPC node and answers the micro CLI by name", async () => {
    const described = await runCli(["describe", "greeter", "--json"], env);
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /"protocol":\s*"grpc"/);
    const called = await runCli(["call", "greeter", "Greeter.Hello", '{"name":"Ada"}'], env);
    assert.equal(called.code, 0, called.stderr);
    assert.deepEqual(JSON.parse(called.stdout), { msg: "Hello Ada" });
    const failed = await runCli(["call", "greeter", "Greeter.Hello", "{}"], env);
    assert.equal(failed.code, 1);
    assert.equal(JSON.parse(failed.stderr).code, 400);
  });

  it("answers a grpc-js client using examples/greeter/greeter.proto", async () => {
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(GREETER_PROTO, { keepCase: true, defaults: true })).greeter as grpc.GrpcObject;
    type GreeterClient = grpc.Client & {
      Hello(req: object, cb: (err: grpc.ServiceError | null, rsp?: { msg: string }) => void): void;
      Count(req: object): grpc.ClientReadableStream<{ n: number }>;
    };
    const client = new (pkg.Greeter as unknown as new (a: string, c: grpc.ChannelCredentials) => GreeterClient)(address, grpc.credentials.createInsecure());
    try {
      const reply = await new Promise<{ msg: string }>((resolve, reject) => client.Hello({ name: "Grace" }, (err, rsp) => (err ? reject(err) : resolve(rsp!))));
      assert.equal(reply.msg, "Hello Grace");
      const counted: number[] = [];
      for await (const { n } of client.Count({ to: 3 }) as AsyncIterable<{ n: number }>) counted.push(n);
      assert.deepEqual(counted, [1, 2, 3]);
    } finally {
      client.close();
    }
  });
});
