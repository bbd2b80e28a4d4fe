/**
 * `micro publish`, `micro subscribe` and `micro events …`: pub/sub and durable events from the
 * command line. They use the broker and events backend a service would (MICRO_BROKER,
 * MICRO_BROKER_ADDRESS, MICRO_EVENTS), print each message as one JSON line on stdout, and run
 * until Ctrl-C. Each returns the exit code; mistakes in the arguments are UsageErrors.
 */
import type { BrokerEvent } from "../broker/broker.js";
import { fixedToken } from "../client/identity.js";
import { publishPayload } from "../client/publish.js";
import { defaultCodecs, displayableBody } from "../codec/index.js";
import { eventView } from "../events/events.js";
import { createLogger } from "../logger/logger.js";
import { headerValue, MicroHeader } from "../metadata/headers.js";
import { registryVerifier } from "../service/create-client.js";
import { resolveBroker, resolveEvents, resolveRegistry } from "../service/resolve.js";
import { parseMetadata } from "./flags.js";
import { UsageError } from "./usage.js";

export interface PubSubFlags {
  metadata?: string[];
  queue?: string;
  group?: string;
  offset?: string;
  /** Sent as Authorization: Bearer (default MICRO_AUTH_TOKEN). */
  token?: string;
}

const log = createLogger({ level: "warn" });

/** micro publish <topic> '<json>' */
export async function publishCommand(args: string[], flags: PubSubFlags): Promise<number> {
  const [topic, body] = args;
  if (!topic || body === undefined) throw new UsageError(`publish needs a topic and a JSON message, e.g. micro publish user.created '{"id":7}'`);
  const payload = parseJson(body);
  const registry = resolveRegistry();
  // With MICRO_REGISTRY_VERIFY, only to subscriber nodes whose record is signed (docs/auth.md).
  const broker = resolveBroker(undefined, undefined, { registry, logger: log, verifier: registryVerifier() });
  try {
    const token = flags.token ?? (process.env.MICRO_AUTH_TOKEN || undefined);
    await publishPayload(broker, defaultCodecs, topic, payload, {
      metadata: parseMetadata(flags.metadata),
      identity: token ? { source: fixedToken(token) } : undefined,
    });
    return 0;
  } finally {
    await broker.disconnect();
    await registry.close();
  }
}

/** micro subscribe <topic> [--queue q]: one JSON line per message until Ctrl-C. */
export async function subscribeCommand(args: string[], flags: PubSubFlags): Promise<number> {
  const [topic] = args;
  if (!topic) throw new UsageError("subscribe needs a topic, e.g. micro subscribe user.created --queue audit");
  const registry = resolveRegistry();
  const broker = resolveBroker(undefined, undefined, { registry, logger: log });
  const subscriber = await broker.subscribe(topic, (event) => print(messageLine(event)), { queue: flags.queue });
  process.stderr.write(`subscribed to ${topic}${flags.queue ? ` (queue ${flags.queue})` : ""} on the ${broker.name} broker; Ctrl-C to stop\n`);
  await untilSignal();
  await subscriber.unsubscribe();
  await broker.disconnect();
  await registry.close();
  return 0;
}

/** micro events publish <topic> '<json>' | micro events consume <topic> [--group g] [--offset n|time] */
export async function eventsCommand(args: string[], flags: PubSubFlags): Promise<number> {
  const [action, topic, body] = args;
  const stream = resolveEvents(undefined, undefined, { logger: log });
  if (stream.name === "memory")
    throw new UsageError("micro events needs a durable stream: set MICRO_EVENTS=nats (or MICRO_BROKER=nats) and MICRO_EVENTS_ADDRESS");
  try {
    if (action === "publish") {
      if (!topic || body === undefined) throw new UsageError(`events publish needs a topic and a JSON event, e.g. micro events publish orders '{"id":1}'`);
      await stream.publish(topic, parseJson(body), { metadata: parseMetadata(flags.metadata) });
      return 0;
    }
    if (action === "consume") {
      if (!topic) throw new UsageError("events consume needs a topic, e.g. micro events consume orders --group billing");
      await stream.consume(topic, (event) => print(eventView(event)), { group: flags.group, offset: parseOffset(flags.offset) });
      process.stderr.write(`consuming ${topic}${flags.group ? ` as group ${flags.group}` : ""}; Ctrl-C to stop\n`);
      await untilSignal();
      return 0;
    }
    throw new UsageError(`events needs publish or consume, not ${JSON.stringify(action ?? "")}`);
  } finally {
    await stream.close();
  }
}

function messageLine(event: BrokerEvent): Record<string, unknown> {
  const { header, body } = event.message;
  return {
    topic: event.topic,
    id: headerValue(header, MicroHeader.Id),
    metadata: header,
    payload: displayableBody(body, headerValue(header, MicroHeader.ContentType)),
  };
}

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop).off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop).on("SIGTERM", stop);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`the message is not valid JSON: ${(err as Error).message}`);
  }
}

function parseOffset(text: string | undefined): number | Date | undefined {
  if (text === undefined) return undefined;
  if (/^\d+$/.test(text)) return Number(text);
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw new UsageError(`--offset ${text}: expected a sequence number or a time such as 2026-01-01T00:00:00Z`);
  return date;
}
