/**
 * Pub/sub benchmark: publish→receive throughput (messages/s) and one-message round-trip latency
 * for each ts-micro broker, next to the bare driver doing the same in the same run.
 *
 *   npm run bench:broker            # every broker whose server is running
 *   npm run bench:broker nats redis # some of them
 *
 * Throughput: one publisher, one subscriber in the same process, 100-byte messages, up to
 * WINDOW publishes awaiting at once; timed from the first publish to the last receipt.
 * Latency: publish one message, wait until it arrives, repeat; p50 and p99.
 */
import { randomUUID } from "node:crypto";
import net from "node:net";
import type { Broker, BrokerMessage } from "../src/broker/broker.js";
import { encodeEnvelope } from "../src/broker/envelope.js";
import { HttpBroker } from "../src/broker/http.js";
import { MemoryBroker } from "../src/broker/memory.js";
import { MqttBroker } from "../src/broker/mqtt.js";
import { NatsBroker } from "../src/broker/nats.js";
import { RabbitMQBroker } from "../src/broker/rabbitmq.js";
import { RedisBroker } from "../src/broker/redis.js";
import { createLogger } from "../src/logger/logger.js";
import { MemoryRegistry } from "../src/registry/memory.js";

const WINDOW = 256;
const LATENCY_SAMPLES = 500;
// 100 bytes of JSON, the default Content-Type.
const BODY = Buffer.from(JSON.stringify({ data: "x".repeat(89) }));
const quiet = createLogger({ level: "error" });

/** One way of moving messages: set up a subscriber, then publish. */
interface Contender {
  label: string;
  setup(topic: string, received: () => void): Promise<{ publish(): Promise<void> | void; close(): Promise<void> }>;
}

function micro(label: string, create: () => Broker): Contender {
  return {
    label,
    async setup(topic, received) {
      const subscriber = create();
      const publisher = create();
      await subscriber.subscribe(topic, () => received());
      // The headers client.publish sets for a JSON payload (the default Content-Type).
      const message: BrokerMessage = { header: { "Content-Type": "application/json", "Micro-Topic": topic, "Micro-Id": randomUUID() }, body: BODY };
      // Wait until the subscription is visible to the publisher (the http broker learns through the registry).
      await publisher.connect();
      return {
        publish: () => publisher.publish(topic, message),
        close: async () => {
          await publisher.disconnect();
          await subscriber.disconnect();
        },
      };
    },
  };
}

const bareNats: Contender = {
  label: "bare @nats-io/transport-node",
  async setup(topic, received) {
    const { connect } = await import("@nats-io/transport-node");
    const sub = await connect({ servers: "127.0.0.1:4222" });
    const pub = await connect({ servers: "127.0.0.1:4222" });
    sub.subscribe(topic, { callback: () => received() });
    await sub.flush();
    return {
      publish: () => pub.publish(topic, BODY),
      close: async () => {
        await pub.drain();
        await sub.drain();
      },
    };
  },
};

/**
 * The bare driver again, with a payload as long as ts-micro's Go Micro envelope of the same message
 * (three headers, base64 body): what moving those bytes alone costs, with no encoding at all.
 */
const bareNatsEnvelopeSized: Contender = {
  label: `bare, ${envelopeSize()}-byte payload`,
  async setup(topic, received) {
    const { connect } = await import("@nats-io/transport-node");
    const body = Buffer.alloc(envelopeSize(), 120);
    const sub = await connect({ servers: "127.0.0.1:4222" });
    const pub = await connect({ servers: "127.0.0.1:4222" });
    sub.subscribe(topic, { callback: () => received() });
    await sub.flush();
    return {
      publish: () => pub.publish(topic, body),
      close: async () => {
        await pub.drain();
        await sub.drain();
      },
    };
  },
};

function envelopeSize(): number {
  return encodeEnvelope({ header: { "Content-Type": "application/json", "Micro-Topic": "bench.xxxxxxxx", "Micro-Id": randomUUID() }, body: BODY }).length;
}

const bareRedis: Contender = {
  label: "bare ioredis PUBLISH/SUBSCRIBE",
  async setup(topic, received) {
    const { Redis } = await import("ioredis");
    const sub = new Redis("redis://127.0.0.1:6379");
    const pub = new Redis("redis://127.0.0.1:6379", { enableAutoPipelining: true });
    await sub.subscribe(topic);
    sub.on("messageBuffer", () => received());
    return {
      publish: async () => void (await pub.publish(topic, BODY)),
      close: async () => {
        await pub.quit();
        await sub.quit();
      },
    };
  },
};

const bareRabbit: Contender = {
  label: "bare amqplib (confirms, acks)",
  async setup(topic, received) {
    const amqp = await import("amqplib");
    const connection = await amqp.connect("amqp://guest:guest@127.0.0.1:5672");
    const consumer = await connection.createChannel();
    await consumer.prefetch(256);
    const { queue } = await consumer.assertQueue("", { exclusive: true, autoDelete: true });
    await consumer.bindQueue(queue, "amq.topic", topic);
    await consumer.consume(queue, (m) => {
      if (!m) return;
      consumer.ack(m);
      received();
    });
    const publisher = await connection.createConfirmChannel();
    return {
      publish: () =>
        new Promise<void>((resolve, reject) => void publisher.publish("amq.topic", topic, BODY, {}, (err: unknown) => (err ? reject(err) : resolve()))),
      close: () => connection.close(),
    };
  },
};

const bareMqtt: Contender = {
  label: "bare mqtt.js (QoS 1)",
  async setup(topic, received) {
    const mqtt = await import("mqtt");
    const sub = await mqtt.connectAsync("mqtt://127.0.0.1:1883", { protocolVersion: 5 });
    const pub = await mqtt.connectAsync("mqtt://127.0.0.1:1883", { protocolVersion: 5 });
    sub.on("message", () => received());
    await sub.subscribeAsync(topic, { qos: 1 });
    return {
      publish: async () => void (await pub.publishAsync(topic, BODY, { qos: 1 })),
      close: async () => {
        await pub.endAsync();
        await sub.endAsync();
      },
    };
  },
};

const registry = new MemoryRegistry();
const memory = new MemoryBroker({ logger: quiet });
const suites: Record<string, { port?: number; count: number; contenders: Contender[] }> = {
  memory: { count: 100_000, contenders: [micro("ts-micro memory", () => memory)] },
  http: { count: 10_000, contenders: [micro("ts-micro http (default)", () => new HttpBroker({ registry, logger: quiet }))] },
  nats: {
    port: 4222,
    count: 100_000,
    contenders: [
      bareNats,
      micro("ts-micro nats (Go Micro envelope)", () => new NatsBroker({ logger: quiet })),
      bareNatsEnvelopeSized,
      micro("ts-micro nats, format raw", () => new NatsBroker({ logger: quiet, format: "raw" })),
    ],
  },
  redis: { port: 6379, count: 50_000, contenders: [bareRedis, micro("ts-micro redis (streams)", () => new RedisBroker({ logger: quiet }))] },
  rabbitmq: { port: 5672, count: 20_000, contenders: [bareRabbit, micro("ts-micro rabbitmq", () => new RabbitMQBroker({ logger: quiet }))] },
  mqtt: { port: 1883, count: 20_000, contenders: [bareMqtt, micro("ts-micro mqtt", () => new MqttBroker({ logger: quiet }))] },
};

async function measure(contender: Contender, count: number): Promise<{ rate: number; p50: number; p99: number }> {
  let got = 0;
  let waiter: (() => void) | undefined;
  const topic = `bench.${randomUUID().slice(0, 8)}`;
  const side = await contender.setup(topic, () => {
    got++;
    waiter?.();
  });
  const arrived = (n: number, timeout = 60_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${contender.label}: ${got}/${n} arrived`)), timeout);
      const check = (): void => {
        if (got >= n) {
          clearTimeout(timer);
          waiter = undefined;
          resolve();
        }
      };
      waiter = check;
      check();
    });
  // Warm up, and make sure the subscription is live.
  for (let i = 0; got === 0 && i < 200; i++) {
    await side.publish();
    await new Promise((r) => setTimeout(r, 10));
  }
  await arrived(1, 10_000);
  await new Promise((r) => setTimeout(r, 100));
  // Latency: one at a time.
  const samples: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const target = got + 1;
    const start = process.hrtime.bigint();
    await side.publish();
    await arrived(target);
    samples.push(Number(process.hrtime.bigint() - start) / 1_000);
  }
  samples.sort((a, b) => a - b);
  // Throughput.
  const base = got;
  let sent = 0;
  const start = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (sent < count) {
      sent++;
      await side.publish();
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  await arrived(base + count);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await side.close();
  return { rate: count / seconds, p50: samples[Math.floor(samples.length * 0.5)], p99: samples[Math.floor(samples.length * 0.99)] };
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setTimeout(1_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

const only = process.argv.slice(2);
console.log(`pub/sub: ${BODY.length}-byte messages, window ${WINDOW}, latency over ${LATENCY_SAMPLES} round trips (node ${process.version})\n`);
console.log(`${"broker".padEnd(34)}${"msgs/s".padStart(12)}${"p50 µs".padStart(10)}${"p99 µs".padStart(10)}${"vs bare".padStart(10)}`);
for (const [name, suite] of Object.entries(suites)) {
  if (only.length > 0 && !only.includes(name)) continue;
  if (suite.port && !(await reachable(suite.port))) {
    console.log(`${name.padEnd(34)}  server not running on 127.0.0.1:${suite.port}; skipped`);
    continue;
  }
  let bare: number | undefined;
  // A discarded pass first, so the driver's code is as warm for the first line as for the last.
  await measure(suite.contenders[0], Math.min(suite.count, 20_000));
  for (const contender of suite.contenders) {
    const { rate, p50, p99 } = await measure(contender, suite.count);
    // Ratios are against the suite's first bare line (the same message as ts-micro's body).
    if (contender.label.startsWith("bare") && bare === undefined) bare = rate;
    const ratio = bare && rate !== bare ? `${(rate / bare).toFixed(2)}×` : "";
    console.log(
      `${contender.label.padEnd(34)}${Math.round(rate).toLocaleString("en").padStart(12)}${p50.toFixed(0).padStart(10)}${p99.toFixed(0).padStart(10)}${ratio.padStart(10)}`,
    );
  }
}
await registry.close();
process.exit(0);
