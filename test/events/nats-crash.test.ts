/**
 * A consumer process killed (SIGKILL) halfway through a backlog without acking loses nothing: a
 * new process in the same group resumes, and every event is processed at least once.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, it } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { NatsStream, streamName } from "../../src/events/nats.js";
import { createLogger } from "../../src/logger/logger.js";
import { fixture, type ServiceProcess, startProcess } from "../process/harness.js";
import { requireServer, SERVERS } from "../setup/servers.js";
import { waitFor } from "../setup/wait.js";

const topic = `events-crash-${randomUUID().slice(0, 8)}`;
const children: ServiceProcess[] = [];
before(() => requireServer("NATS with JetStream", SERVERS.nats.port, SERVERS.nats.start));
after(async () => {
  for (const c of children) c.child.kill("SIGKILL");
  const nc = await connect({ servers: "127.0.0.1:4222" });
  await (await jetstreamManager(nc)).streams.delete(streamName(topic)).catch(() => {});
  await nc.close();
});

const processed = (c: ServiceProcess): number[] => [...c.output().matchAll(/^GOT (\d+)$/gm)].map((m) => Number(m[1]));

it("resumes a consumer group after its process is SIGKILLed mid-backlog, with no event lost", async () => {
  const publisher = new NatsStream({ address: "127.0.0.1:4222", logger: createLogger({ level: "warn" }) });
  for (let n = 0; n < 1_000; n++) await publisher.publish(topic, { n });
  await publisher.close();

  const env = { TOPIC: topic, GROUP: "crash-test", ACK_WAIT: "2000" };
  const first = await startProcess(fixture("events-consumer"), { ...env, STALL_AT: "500" });
  children.push(first);
  assert.ok(await waitFor(() => processed(first).length >= 490, 30_000), `the first consumer got to ${processed(first).length}`);
  first.child.kill("SIGKILL");
  await first.exited;
  const before = new Set(processed(first));
  assert.ok(before.size < 1_000, "killed before it could finish");

  const second = await startProcess(fixture("events-consumer"), env);
  children.push(second);
  const all = (): Set<number> => new Set([...before, ...processed(second)]);
  assert.ok(await waitFor(() => all().size === 1_000, 30_000), `processed ${all().size}/1000 after the restart`);
  const redelivered = processed(second).filter((n) => before.has(n)).length;
  assert.ok(processed(second).length >= 1_000 - before.size, `the second consumer did the rest (redelivered duplicates: ${redelivered})`);
});
