/**
 * The ts-micro side of the interop tests as a process: a registry and a client configured from
 * MICRO_* variables, driven by one JSON command per stdin line. It runs as a separate process so
 * that, for mDNS, it can sit inside a network namespace. Prints "READY -" once it reads commands,
 * then one JSON answer per command: {"seq", "result"} or {"seq", "error": {name, message, code?, id?}}.
 *
 *   {"seq":1,"op":"list"}                                       → service names
 *   {"seq":2,"op":"get","service":"x"}                          → the registry records of x
 *   {"seq":2,"op":"cached","service":"x"}                       → x as the publishing broker's cache has it
 *   {"seq":3,"op":"call","service":"x","endpoint":"E","body":{}} → the response
 *   {"seq":4,"op":"stream","service":"x","endpoint":"E","body":{}} → every message, in order
 *   {"seq":5,"op":"publish","topic":"t","count":3}             → publishes {id, text: "from ts <id>"}
 */
import readline from "node:readline";
import { createClient, isMicroError, resolveBroker } from "../../src/index.js";
import { CacheRegistry } from "../../src/registry/cache.js";
import { resolveRegistry } from "../../src/service/resolve.js";

interface Command {
  seq: number;
  op: "list" | "get" | "cached" | "call" | "stream" | "publish";
  service?: string;
  endpoint?: string;
  body?: unknown;
  topic?: string;
  count?: number;
}

const registry = resolveRegistry();
// The broker's own cache, so that a test can wait until the publisher sees a new subscriber: over
// mDNS that is when the subscriber's announcement arrives, which Go Micro sends up to ~750 ms
// after it starts answering lookups (it probes first).
const cache = new CacheRegistry(registry);
const broker = resolveBroker(undefined, undefined, { registry: cache });
const client = createClient({ registry, broker, retries: 0 });

async function run(command: Command): Promise<unknown> {
  switch (command.op) {
    case "list":
      return (await registry.listServices()).map((s) => s.name);
    case "get":
      return registry.getService(command.service!);
    case "cached":
      return cache.getService(command.service!);
    case "call":
      return client.call(command.service!, command.endpoint!, command.body ?? {});
    case "stream": {
      const got: unknown[] = [];
      for await (const message of client.stream(command.service!, command.endpoint!, command.body ?? {})) got.push(message);
      return got;
    }
    case "publish":
      for (let id = 0; id < (command.count ?? 1); id++) await client.publish(command.topic!, { id, text: `from ts ${id}` });
      return command.count ?? 1;
  }
}

const write = (answer: unknown): void => void process.stdout.write(`${JSON.stringify(answer)}\n`);

const input = readline.createInterface({ input: process.stdin });
input.on("line", (line) => {
  if (!line.trim()) return;
  const command = JSON.parse(line) as Command;
  run(command).then(
    (result) => write({ seq: command.seq, result }),
    (err: unknown) => {
      const e = err as Error;
      write({
        seq: command.seq,
        error: { name: e.name, message: e.message, ...(isMicroError(err) ? { code: err.code, id: err.id, detail: err.detail } : {}) },
      });
    },
  );
});
input.once("close", () => {
  void (async () => {
    await client.close();
    await broker.disconnect();
    await cache.close();
    await registry.close();
  })().finally(() => process.exit(0));
});
process.stdout.write("READY -\n");
