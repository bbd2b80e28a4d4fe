/**
 * An in-process broker, for tests and for services sharing one process. It keeps the same topic
 * and queue semantics as the networked brokers, delivers in publish order, and redelivers a
 * nacked message (to any member of its queue group) after `redeliveryDelay`.
 */
import { randomInt } from "../driver/crypto.js";
import { logger as defaultLogger, type Logger } from "../logger/logger.js";
import type { Broker, BrokerHandler, BrokerMessage, SubscribeOptions, Subscriber } from "./broker.js";
import { Dispatcher } from "./dispatcher.js";

export interface MemoryBrokerOptions {
  /** Milliseconds before a nacked message is delivered again (default 100). */
  redeliveryDelay?: number;
  logger?: Logger;
}

interface MemorySubscription extends Subscriber {
  dispatcher: Dispatcher;
}

export class MemoryBroker implements Broker {
  readonly name = "memory";
  readonly address = "memory";
  private readonly topics = new Map<string, Set<MemorySubscription>>();
  private readonly redeliveryDelay: number;
  private readonly log: Logger;

  constructor(options: MemoryBrokerOptions = {}) {
    this.redeliveryDelay = options.redeliveryDelay ?? 100;
    this.log = options.logger ?? defaultLogger();
  }

  async connect(): Promise<void> {}

  /** Ends every subscription made through this broker. */
  async disconnect(): Promise<void> {
    for (const subscriptions of [...this.topics.values()]) for (const s of [...subscriptions]) await s.unsubscribe();
  }

  async publish(topic: string, message: BrokerMessage): Promise<void> {
    const subscriptions = this.topics.get(topic);
    if (!subscriptions) return;
    const groups = new Map<string, MemorySubscription[]>();
    for (const s of subscriptions) {
      if (s.queue === undefined) this.deliver(s, topic, message);
      else groups.set(s.queue, [...(groups.get(s.queue) ?? []), s]);
    }
    for (const [queue, members] of groups) this.deliverToGroup(topic, queue, members, message);
  }

  async subscribe(topic: string, handler: BrokerHandler, options: SubscribeOptions = {}): Promise<Subscriber> {
    const subscriptions = this.topics.get(topic) ?? new Set<MemorySubscription>();
    this.topics.set(topic, subscriptions);
    const dispatcher = new Dispatcher(handler, { autoAck: options.autoAck ?? true, concurrency: options.concurrency ?? 1, log: this.log });
    const subscription: MemorySubscription = {
      topic,
      queue: options.queue || undefined,
      dispatcher,
      unsubscribe: async () => {
        subscriptions.delete(subscription);
        if (subscriptions.size === 0 && this.topics.get(topic) === subscriptions) this.topics.delete(topic);
      },
    };
    subscriptions.add(subscription);
    return subscription;
  }

  private deliverToGroup(topic: string, queue: string, members: MemorySubscription[], message: BrokerMessage): void {
    this.deliver(members[randomInt(members.length)], topic, message, () => {
      const now = [...(this.topics.get(topic) ?? [])].filter((s) => s.queue === queue);
      if (now.length > 0) this.deliverToGroup(topic, queue, now, message);
    });
  }

  /** `redeliver` defaults to the same subscription, while it is still subscribed. */
  private deliver(s: MemorySubscription, topic: string, message: BrokerMessage, redeliver?: () => void): void {
    const again = redeliver ?? (() => this.topics.get(topic)?.has(s) && this.deliver(s, topic, message));
    s.dispatcher.push({
      topic,
      message: { header: { ...message.header }, body: message.body },
      nack: (requeue) => {
        if (requeue) setTimeout(again, this.redeliveryDelay).unref();
      },
    });
  }
}
