/**
 * `micro publish`, `micro subscribe` and `micro events` as a user runs them: separate processes,
 * the default http broker through the host-local registry, and NATS.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { after, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { streamName } from "../../src/events/nats.js";
import { cli, runCli, tempRegistry } from "../process/harness.js";
import { requireServer, SERVERS } from "../setup/servers.js";
import { waitFor } from "../setup/wait.js";

const children: ChildProcess[] = [];
const streams: string[] = [];
after(async () => {
  for (const c of children) c.kill("SIGKILL");
  if (streams.length === 0) return;
  const nc = await connect({ servers: "127.0.0.1:4222" });
  const jsm = await jetstreamManager(nc);
  for (const s of streams) await jsm.streams.delete(streamName(s)).catch(() => {});
  await nc.close();
});

/** Starts a long-running micro command; `lines()` are its stdout JSON lines. */
function start(args: string[], env: Record<string, string>): { child: ChildProcess; lines: () => Array<Record<string, unknown>>; stderr: () => string } {
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, MICRO_LOG_LEVEL: "warn", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  return {
    child,
    lines: () =>
      out
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stderr: () => err,
  };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  child.kill("SIGINT");
  return exited;
}

it("micro subscribe prints what micro publish sends, over the default http broker", async () => {
  const env = { MICRO_REGISTRY_ADDRESS: tempRegistry() };
  const sub = start(["subscribe", "cli.greetings"], env);
  assert.ok(await waitFor(() => sub.stderr().includes("subscribed to cli.greetings"), 10_000), sub.stderr());
  const published = await runCli(["publish", "cli.greetings", '{"hello":"world"}', "--metadata", "Trace-Id=t1"], env);
  assert.equal(published.code, 0, published.stderr);
  assert.ok(await waitFor(() => sub.lines().length === 1, 10_000), "the subscriber printed the message");
  const [line] = sub.lines();
  assert.equal(line.topic, "cli.greetings");
  assert.deepEqual(line.payload, { hello: "world" });
  assert.equal((line.metadata as Record<string, string>)["Trace-Id"], "t1");
  assert.equal(await stop(sub.child), 0, "Ctrl-C ends it cleanly");
});

it("micro subscribe --queue shares messages over NATS (MICRO_BROKER=nats)", async () => {
  await requireServer("NATS", SERVERS.nats.port, SERVERS.nats.start);
  const env = { MICRO_BROKER: "nats", MICRO_BROKER_ADDRESS: "127.0.0.1:4222" };
  const topic = `cli.jobs.${randomUUID().slice(0, 8)}`;
  const workers = [start(["subscribe", topic, "--queue", "workers"], env), start(["subscribe", topic, "--queue", "workers"], env)];
  for (const w of workers) assert.ok(await waitFor(() => w.stderr().includes("subscribed"), 10_000), w.stderr());
  for (let n = 0; n < 6; n++) assert.equal((await runCli(["publish", topic, JSON.stringify({ n })], env)).code, 0);
  const total = (): number => workers.reduce((sum, w) => sum + w.lines().length, 0);
  assert.ok(await waitFor(() => total() === 6, 10_000), `got ${total()}/6`);
  const ns = workers.flatMap((w) => w.lines().map((l) => (l.payload as { n: number }).n)).sort();
  assert.deepEqual(ns, [0, 1, 2, 3, 4, 5], "each message once among the queue's members");
  for (const w of workers) await stop(w.child);
});

it("micro events publish and consume --group --offset on JetStream", async () => {
  await requireServer("NATS with JetStream", SERVERS.nats.port, SERVERS.nats.start);
  const env = { MICRO_EVENTS: "nats", MICRO_EVENTS_ADDRESS: "127.0.0.1:4222" };
  const topic = `cli-events-${randomUUID().slice(0, 8)}`;
  streams.push(topic);
  for (let n = 0; n < 3; n++) assert.equal((await runCli(["events", "publish", topic, JSON.stringify({ n })], env)).code, 0);
  const consumer = start(["events", "consume", topic, "--group", "cli", "--offset", "2"], env);
  assert.ok(await waitFor(() => consumer.lines().length === 2, 10_000), `${consumer.stderr()} ${JSON.stringify(consumer.lines())}`);
  assert.deepEqual(
    consumer.lines().map((l) => [l.sequence, l.payload]),
    [
      [2, { n: 1 }],
      [3, { n: 2 }],
    ],
  );
  assert.equal(await stop(consumer.child), 0);
});

it("micro publish without a message is a usage error", async () => {
  const result = await runCli(["publish", "only.topic"], {});
  assert.equal(result.code, 2);
  assert.match(result.stderr, /publish needs a topic and a JSON message/);
});
