import { type Client, type Context, MicroError } from "ts-micro";

/** The topic every greeting is published on. */
export const TOPIC = "helloworld.greeted";

/** What is published on TOPIC. */
export interface Greeting {
  name: string;
  at: string;
}

export interface CallRequest {
  name: string;
}

export interface CallResponse {
  msg: string;
}

export interface RecentResponse {
  greetings: Greeting[];
}

/** How many received greetings Recent keeps. */
const KEEP = 10;

/**
 * Endpoints Helloworld.Call, which greets and publishes the greeting on TOPIC, and
 * Helloworld.Recent, the greetings this node received from TOPIC (by its subscriber, onGreeting).
 */
export class Helloworld {
  private readonly received: Greeting[] = [];

  constructor(private readonly client: Client) {}

  async Call(req: CallRequest, _ctx: Context): Promise<CallResponse> {
    if (!req.name) throw MicroError.badRequest("helloworld", "name is required");
    await this.client.publish<Greeting>(TOPIC, { name: req.name, at: new Date().toISOString() });
    return { msg: `Hello ${req.name}` };
  }

  async Recent(_req: Record<string, never>, _ctx: Context): Promise<RecentResponse> {
    return { greetings: [...this.received] };
  }

  /** The subscriber of TOPIC. A property, not a method, so it is not served as an endpoint. */
  readonly onGreeting = async (greeting: Greeting): Promise<void> => {
    this.received.push(greeting);
    if (this.received.length > KEEP) this.received.shift();
  };
}
