/**
 * `micro gen proto`: TypeScript types from a .proto that check a handler class and the typed
 * proxy at compile time. The generated echo.proto types are compiled with a handler and calls
 * that must pass and lines marked `// error TSnnnn` that must fail with exactly that code
 * (strict, exactOptionalPropertyTypes, as test/types does); the greeter example's committed
 * greeter.pb.ts must be what the generator writes today.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { PROTO_SOURCE } from "../../examples/greeter/greeter.pb.js";
import { ProtoSchema } from "../../src/codec/proto.js";
import { protoToTypeScript } from "../../src/grpc/typegen.js";
import { ECHO_PROTO } from "./echo-handler.js";

const root = path.resolve(import.meta.dirname, "..", "..", "..");
const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
const cli = path.join(root, "dist", "src", "cli", "main.js");

const USES = `import { type Context, createClient, MicroError } from "ts-micro";
import type { CountRequest, CountResponse, EchoHandler, FailRequest, Request, Response, SlowRequest, SumResponse } from "./echo.pb.js";

export class Echo implements EchoHandler {
  async Call(req: Request, _ctx: Context): Promise<Response> {
    return { msg: \`hello \${req.name ?? ""}\`, metadata: { a: "b" } };
  }
  async *Count(req: CountRequest): AsyncIterable<CountResponse> {
    for (let n = 1; n <= (req.to ?? 0); n++) yield { n };
  }
  async Sum(numbers: AsyncIterable<CountResponse>): Promise<SumResponse> {
    let total = 0;
    for await (const { n } of numbers) total += n ?? 0;
    return { total };
  }
  async *Chat(messages: AsyncIterable<Request>): AsyncIterable<Response> {
    for await (const m of messages) yield { msg: m.name ?? "" };
  }
  async Fail(req: FailRequest): Promise<Response> {
    throw new MicroError("echo", req.code ?? 500, "no");
  }
  async Slow(_req: SlowRequest): Promise<Response> {
    return {};
  }
}

export class Wrong implements EchoHandler { // error TS2420
  async Call(req: Request): Promise<Response> {
    return { msg: 7 }; // error TS2322
  }
  async *Count(): AsyncIterable<CountResponse> {}
  async Sum(): Promise<SumResponse> {
    return {};
  }
  async *Chat(): AsyncIterable<Response> {}
  async Fail(): Promise<Response> {
    return {};
  }
}

const echo = createClient().service<{ Echo: EchoHandler }>("echo").Echo;
const reply: Response = await echo.Call({ name: "Ada" }, { timeout: 1_000 });
for await (const { n } of echo.Count({ to: 3 })) console.log(n, reply.metadata);
await echo.Call({ name: 7 }); // error TS2322
await echo.Call({ nam: "x" }); // error TS2561
await echo.Cal({ name: "x" }); // error TS2551
const total: string | undefined = (await echo.Sum((async function* () { yield { n: 1 }; })())).total; // error TS2322
console.log(total);
`;

async function diagnostics(dir: string): Promise<string[]> {
  const result = await promisify(execFile)(process.execPath, [tsc, "-p", dir, "--pretty", "false"], { cwd: root, timeout: 120_000 }).then(
    () => ({ stdout: "" }),
    (err: { stdout?: string; code?: unknown }) => {
      if (typeof err.code !== "number") throw err;
      return { stdout: err.stdout ?? "" };
    },
  );
  return [...result.stdout.matchAll(/^(?:.*[\\/])?([\w.-]+\.ts)\((\d+),\d+\): error (TS\d+)/gm)].map(([, file, line, code]) => `${file}:${line} ${code}`);
}

describe("micro gen proto", () => {
  it("writes message interfaces, enums as string unions and a handler interface per service", () => {
    const source = protoToTypeScript([ECHO_PROTO]);
    assert.match(source, /export interface Response \{\n {2}msg\?: string;\n {2}metadata\?: Record<string, string>;\n\}/);
    assert.match(source, /Count\(req: CountRequest, ctx: Context\): AsyncIterable<CountResponse>;/);
    assert.match(source, /Sum\(req: AsyncIterable<CountResponse>, ctx: Context\): Promise<SumResponse>;/);
    assert.match(source, /Chat\(req: AsyncIterable<Request>, ctx: Context\): AsyncIterable<Response>;/);
    assert.match(source, /^import type \{ Context \} from "ts-micro";$/m);
  });

  it("checks a handler class and typed-proxy calls against the .proto at compile time", { timeout: 180_000 }, async () => {
    // Inside the package (dist/), so that "ts-micro" resolves to the built declarations, as in a project.
    const dir = path.join(root, "dist", "typegen-fixture");
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "echo.pb.ts"), protoToTypeScript([ECHO_PROTO]));
    fs.writeFileSync(path.join(dir, "uses.ts"), USES);
    fs.writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2023"],
          types: ["node"],
          strict: true,
          exactOptionalPropertyTypes: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ["echo.pb.ts", "uses.ts"],
      }),
    );
    const wanted = USES.split("\n").flatMap((text, i) => {
      const mark = /\/\/ error (TS\d+)\s*$/.exec(text);
      return mark ? [`uses.ts:${i + 1} ${mark[1]}`] : [];
    });
    assert.equal(wanted.length, 6);
    assert.deepEqual((await diagnostics(dir)).sort(), wanted.sort());
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("carries the .proto source, enough for a ProtoSchema at run time without the file", () => {
    const schema = new ProtoSchema({ source: [...PROTO_SOURCE] });
    assert.deepEqual(
      schema.services.map((s) => [s.fullName, s.methods.map((m) => `${m.name}:${m.requestStream}:${m.responseStream}`)]),
      [["greeter.Greeter", ["Hello:false:false", "Count:false:true", "Sum:true:false", "Echo:true:true"]]],
    );
    const type = schema.typeFor({ endpoint: "Greeter.Count", kind: "request" })!;
    assert.deepEqual(schema.decode(type, schema.encode(type, { to: 3, delay_ms: 5 })), { to: 3, delayMs: 5 });
  });

  it("keeps the greeter example's greeter.pb.ts as the CLI generates it", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [cli, "gen", "proto", path.join(root, "examples", "greeter", "greeter.proto")], {
      timeout: 30_000,
    });
    assert.equal(stdout, fs.readFileSync(path.join(root, "examples", "greeter", "greeter.pb.ts"), "utf8"));
  });
});
