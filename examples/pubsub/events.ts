/**
 * Durable events on NATS JetStream: events published while no consumer runs are kept, and the
 * `billing` group resumes where it left off after a restart. Needs a NATS server with JetStream
 * (`nats-server -js`) and the optional packages @nats-io/transport-node and @nats-io/jetstream.
 *
 *   node dist/examples/pubsub/events.js publish   # store 3 order events
 *   node dist/examples/pubsub/events.js consume   # handle them (Ctrl-C, run again: nothing twice)
 */
import { NatsStream } from "ts-micro/events/nats";

interface OrderPlaced {
  order: number;
  total: number;
}

const events = new NatsStream({ address: process.env.MICRO_EVENTS_ADDRESS ?? "127.0.0.1:4222" });

if (process.argv[2] === "publish") {
  for (let order = 1; order <= 3; order++) await events.publish("orders", { order, total: order * 10 } satisfies OrderPlaced);
  console.log("published 3 orders");
  await events.close();
} else {
  await events.consume<OrderPlaced>(
    "orders",
    async (event) => {
      const { order, total } = event.json();
      console.log(`bill order ${order}: ${total} (event ${event.sequence}, attempt ${event.attempt})`);
      // Returning acks the event; throwing nacks it, and JetStream delivers it again.
    },
    { group: "billing", ackWait: 10_000 },
  );
  console.log("consuming orders as group billing; Ctrl-C to stop");
  process.once("SIGINT", () => void events.close());
}
