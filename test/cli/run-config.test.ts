/**
 * micro.mu and micro.json as Go Micro's `micro run` reads them: services, depends order, env and
 * deploy blocks, and an error naming the file (and line) for each kind of mistake. Also how a
 * project's services are found without either file.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { parseMicroJson, parseMu } from "../../src/cli/run/config.js";
import { Prefixer, useColour } from "../../src/cli/run/output.js";
import { loadProject } from "../../src/cli/run/project.js";
import { waitReady } from "../../src/cli/run/ready.js";
import { UsageError } from "../../src/cli/usage.js";
import { MemoryRegistry } from "../../src/registry/memory.js";

const MU = `# a blog
service web
    path ./web
    depends posts users
service posts
\tpath ./posts
\tdepends users
    port 8082
service users
    path ./users   # trailing comment

env development
    DB memory
    GREETING hello   there
env production
    DB postgres://db/blog

deploy prod
    ssh deploy@example.com
`;

function muError(text: string): string {
  try {
    parseMu(text, "micro.mu");
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    return err.message;
  }
  return assert.fail("no error");
}

describe("micro.mu", () => {
  it("reads services, their path, port and depends, env blocks and deploy targets", () => {
    const config = parseMu(MU, "micro.mu");
    assert.deepEqual(
      config.services.map((s) => [s.name, s.path, s.depends, s.port]),
      [
        ["web", "./web", ["posts", "users"], undefined],
        ["posts", "./posts", ["users"], 8082],
        ["users", "./users", [], undefined],
      ],
    );
    assert.deepEqual(config.env, { development: { DB: "memory", GREETING: "hello there" }, production: { DB: "postgres://db/blog" } });
    assert.deepEqual(config.deploy, { prod: { ssh: "deploy@example.com" } });
  });

  it("names the file and line of each mistake", () => {
    assert.equal(muError("service a\n    colour red\n"), 'micro.mu:2: unknown service property "colour" (expected path, port, depends or instances)');
    assert.equal(muError("services a\n"), 'micro.mu:1: unknown keyword "services" (expected service, env or deploy)');
    assert.equal(muError("    path ./a\n"), "micro.mu:1: property path outside a service, env or deploy block");
    assert.equal(muError("service a\n  path ./a\n"), "micro.mu:2: indent properties by 4 spaces or a tab");
    assert.equal(muError("service a\n    port http\n"), 'micro.mu:2: port "http" is not a port number');
    assert.equal(muError("service a b\n"), "micro.mu:1: service needs exactly one name");
    assert.equal(muError("service a\nservice a\n"), "micro.mu:2: service a is declared twice");
    assert.equal(muError("env dev\n    1X y\n"), 'micro.mu:2: "1X" is not an environment variable name');
    assert.equal(muError("# nothing\n"), "micro.mu: no service is declared");
    assert.equal(muError("service a\n    instances 0\n"), 'micro.mu:2: instances "0" is not a whole number from 1 to 64');
    assert.equal(muError("service a\n    instances two\n"), 'micro.mu:2: instances "two" is not a whole number from 1 to 64');
  });

  it("reads how many instances of a service to run", () => {
    const config = parseMu("service a\n    instances 3\nservice b\n", "micro.mu");
    assert.deepEqual(
      config.services.map((s) => [s.name, s.instances]),
      [
        ["a", 3],
        ["b", undefined],
      ],
    );
    const json = parseMicroJson('{"services": {"a": {"instances": 2}}}', "micro.json");
    assert.equal(json.services[0]?.instances, 2);
    assert.throws(
      () => parseMicroJson('{"services": {"a": {"instances": 100}}}', "micro.json"),
      /micro\.json: services\.a: instances "100" is not a whole number from 1 to 64/,
    );
  });

  it("refuses an unknown dependency and a cycle", () => {
    assert.equal(muError("service a\n    depends b\n"), "micro.mu: service a depends on b, which is not declared");
    assert.equal(
      muError("service a\n    depends b\nservice b\n    depends c\nservice c\n    depends a\nservice d\n"),
      "micro.mu: the depends of a, b, c form a cycle",
    );
  });
});

describe("micro.json", () => {
  it("reads the same model as micro.mu", () => {
    const config = parseMicroJson(
      JSON.stringify({
        services: { web: { path: "./web", depends: ["users"] }, users: { path: "./users", port: 8081 } },
        env: { development: { DB: "memory", PORT: 1 } },
        deploy: { prod: { ssh: "deploy@host" } },
      }),
      "micro.json",
    );
    assert.deepEqual(
      config.services.map((s) => [s.name, s.path, s.depends, s.port]),
      [
        ["web", "./web", ["users"], undefined],
        ["users", "./users", [], 8081],
      ],
    );
    assert.deepEqual(config.env, { development: { DB: "memory", PORT: "1" } });
  });

  it("names the file of each mistake", () => {
    const error = (text: string): string => {
      try {
        parseMicroJson(text, "micro.json");
      } catch (err) {
        return (err as Error).message;
      }
      return "";
    };
    assert.match(error("{"), /^micro\.json: not valid JSON/);
    assert.equal(error("[]"), "micro.json: expected an object with services, env and deploy");
    assert.equal(error('{"service":{}}'), 'micro.json: unknown key "service"');
    assert.equal(error('{"services":{"a":{"depends":"b"}}}'), "micro.json: services.a.depends must be a list of service names");
    assert.equal(error('{"services":{"a":{"port":99999}}}'), 'micro.json: services.a: port "99999" is not a port number');
    assert.equal(error('{"services":{"a":{"depends":["b"]}}}'), "micro.json: service a depends on b, which is not declared");
  });
});

describe("finding a project's services", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-project-"));
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  const write = (file: string, text = ""): void => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  };

  it("without a configuration: main.ts, src/main.ts or a package.json micro entry, never inside node_modules, dist or dot-directories", () => {
    write("users/main.ts");
    write("posts/package.json", JSON.stringify({ name: "@blog/posts" }));
    write("posts/src/main.ts");
    write("posts/src/nested/main.ts"); // part of posts, not a service of its own
    write("web/package.json", JSON.stringify({ micro: { entry: "server.ts", name: "frontend" } }));
    write("web/server.ts");
    write("lib/index.ts");
    write("node_modules/x/main.ts");
    write("dist/main.ts");
    write(".cache/main.ts");
    const project = loadProject(root, undefined);
    assert.equal(project.configFile, undefined);
    assert.deepEqual(
      project.services.map((s) => [s.name, path.relative(root, s.entry)]),
      [
        ["posts", "posts/src/main.ts"],
        ["users", "users/main.ts"],
        ["frontend", "web/server.ts"],
      ],
    );
  });

  it("with a micro.mu: its services in depends order, and the chosen env block", () => {
    write("micro.mu", "service web\n    path ./web\n    depends users\nservice users\nenv production\n    DB pg\n");
    const project = loadProject(root, "production");
    assert.deepEqual(
      project.services.map((s) => s.name),
      ["users", "web"],
    );
    assert.deepEqual(project.env, { DB: "pg" });
    // The default environment may be absent; one asked for by name must exist.
    assert.deepEqual(loadProject(root, undefined).env, {});
    assert.throws(() => loadProject(root, "staging"), /has no env staging \(it has production\)/);
    write("micro.mu", "service lib\n");
    assert.throws(() => loadProject(root, undefined), /service lib: no entry in .*lib/);
    fs.rmSync(path.join(root, "micro.mu"));
  });
});

describe("log prefixes", () => {
  it("are coloured only on a terminal without NO_COLOR", () => {
    const terminal = { isTTY: true } as NodeJS.WriteStream;
    assert.equal(useColour(terminal, {}), true);
    assert.equal(useColour(terminal, { NO_COLOR: "1" }), false);
    assert.equal(useColour({ isTTY: false } as NodeJS.WriteStream, {}), false);
    const lines: string[] = [];
    const out = { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream;
    const plain = new Prefixer(["users", "gateway"], out as never, false);
    plain.write(plain.prefix("users", 0), ["a", "b"]);
    assert.deepEqual(lines, ["users   | a\nusers   | b\n"]);
    const coloured = new Prefixer(["users"], out as never, true);
    assert.equal(coloured.prefix("users", 0), "\x1b[36musers | \x1b[0m");
  });
});

describe("waiting for a dependency", () => {
  const never = new Promise<void>(() => {});
  const registry = new MemoryRegistry();

  it("with a port: ready once something accepts connections there", async () => {
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      assert.equal(await waitReady({ name: "users", port, registry, exited: never, stopped: never, timeout: 30_000 }), "ready");
    } finally {
      server.close();
    }
  });

  it("without a port: ready once it is registered", async () => {
    const waiting = waitReady({ name: "users", registry, exited: never, stopped: never, timeout: 30_000 });
    await registry.register({ name: "users", version: "1", metadata: {}, nodes: [{ id: "users-1", address: "127.0.0.1:1", metadata: {} }], endpoints: [] });
    assert.equal(await waiting, "ready");
  });

  it("gives up when the dependency exits, micro run stops, or the bound passes", async () => {
    assert.equal(await waitReady({ name: "posts", registry, exited: Promise.resolve(), stopped: never, timeout: 30_000 }), "exited");
    assert.equal(await waitReady({ name: "posts", registry, exited: never, stopped: Promise.resolve(), timeout: 30_000 }), "stopped");
    assert.equal(await waitReady({ name: "posts", registry, exited: never, stopped: never, timeout: 200 }), "timeout");
  });
});
