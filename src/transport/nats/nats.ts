/**
 * `nats`: calls and streams as messages through a NATS server (`@nats-io/transport-node`, an
 * optional peer dependency), like Go Micro's NATS transport plugin. A listener's address is a
 * subject of its own (`micro.transport.<random>`), which is what the service registers; clients
 * publish requests there. No port is opened: every node only needs to reach NATS.
 *
 * One NATS connection per transport instance carries its listeners and client connections. It is
 * opened on first use and closed when the last of them closes (a connection passed in the options
 * is the caller's and is never closed here). Wire format and subjects: wire.ts.
 */
import type { ConnectionOptions, NatsConnection } from "@nats-io/transport-node";
import { randomBytes } from "../../driver/crypto.js";
import { Lazy } from "../../driver/lazy.js";
import { type NatsConnectionOptions, type NatsHandle, openNatsConnection, parseServers } from "../../driver/nats.js";
import { logger as defaultLogger, type Logger } from "../../logger/logger.js";
import { DEFAULT_STREAM_WINDOW } from "../framing/framed-stream.js";
import { type ClientConnection, type Listener, type ListenOptions, NotDeliveredError, type Transport } from "../transport.js";
import { NatsClientConnection } from "./client.js";
import { NatsListener, type NatsListenerLimits } from "./listener.js";
import { type LinkUser, maxMessageSize, type NatsLink } from "./wire.js";

export type { NatsConnectionOptions, NatsTlsOptions } from "../../driver/nats.js";

/**
 * nats.js queues what is published in one turn of the event loop and writes it at the end of the
 * turn, or at once when the queue reaches `pendingLimit` bytes (a connect option it takes but does
 * not declare; 32 KiB by default). Under load the calls in flight move as one batch: the server
 * reads them in one go and answers them in one write, then the client does the same, and each
 * process waits while the other works. Writing every 8 KiB sends the first requests and answers
 * of a batch while the rest are still being made, so both processes work at the same time, for
 * a few more writes (and a little more work for the NATS server). Our own connection only;
 * connectOptions can set it otherwise, and a connection passed in is used as it is.
 */
const WRITE_EVERY: Partial<ConnectionOptions> & { pendingLimit: number } = { pendingLimit: 8 * 1024 };

/**
 * Where NATS is (`servers` or a shared `connection`), TLS, logger (see NatsConnectionOptions), the
 * listener's limits (NatsListenerLimits), and the transport's own settings.
 */
export interface NatsTransportOptions extends NatsConnectionOptions, NatsListenerLimits {
  /** Bytes of stream messages a receiver may have unread, per stream and direction (default 1 MiB). */
  streamWindow?: number;
  /** Milliseconds a dial waits for the listener to answer (default 5 s). */
  dialTimeout?: number;
  /**
   * Milliseconds between checks that the other side of open calls and streams still exists
   * (default 2 s). A peer that died without a word is noticed within about this long.
   */
  probeInterval?: number;
}

export class NatsTransport implements Transport {
  readonly name = "nats";
  readonly servers: string[];
  private readonly streamWindow: number;
  private readonly dialTimeout: number;
  private readonly probeInterval: number;
  private readonly log: Logger;
  private readonly connection = new Lazy(() => this.open());
  /** Who is told when the connection drops. */
  private readonly users = new Set<LinkUser>();
  /** Listeners and client connections holding the connection, including those still opening. */
  private holders = 0;

  constructor(private readonly options: NatsTransportOptions = {}) {
    this.servers = parseServers(options.servers);
    this.streamWindow = options.streamWindow ?? DEFAULT_STREAM_WINDOW;
    this.dialTimeout = options.dialTimeout ?? 5_000;
    this.probeInterval = options.probeInterval ?? 2_000;
    this.log = options.logger ?? defaultLogger();
  }

  /** `address` is ignored: a listener's address is a fresh subject. */
  async listen(_address: string, options: ListenOptions): Promise<Listener> {
    const subject = `micro.transport.${randomId()}`;
    return this.withLink((link) => NatsListener.open(link, subject, options, this.streamWindow, this.log, this.options));
  }

  async dial(address: string, options: { timeout?: number } = {}): Promise<ClientConnection> {
    const timeout = options.timeout ?? this.dialTimeout;
    try {
      return await this.withLink((link) => NatsClientConnection.open(link, address, `_INBOX.${randomId()}`, timeout, this.streamWindow, this.log));
    } catch (err) {
      if (err instanceof NotDeliveredError) throw err;
      throw new NotDeliveredError(`dial ${address}: ${(err as Error).message}`, address);
    }
  }

  /**
   * Gives `create` the shared connection; what it creates is told when the connection drops, and
   * releases it on close. A failed `create` releases it at once.
   */
  private async withLink<T extends LinkUser>(create: (link: NatsLink) => Promise<T>): Promise<T> {
    this.holders++;
    let nc: NatsConnection;
    try {
      nc = (await this.connection.get()).nc;
    } catch (err) {
      this.holders--;
      throw err;
    }
    let user: T | undefined;
    let released = false;
    const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    const link: NatsLink = {
      nc,
      maxPayload,
      maxMessageSize: maxMessageSize(maxPayload),
      probeInterval: this.probeInterval,
      release: () => {
        if (released) return;
        released = true;
        this.holders--;
        if (user) this.users.delete(user);
        this.closeIfUnused();
      },
    };
    try {
      user = await create(link);
    } catch (err) {
      link.release();
      throw err;
    }
    if (!released) this.users.add(user);
    return user;
  }

  /** The last user is gone: close a connection we opened (the next user opens a new one). */
  private closeIfUnused(): void {
    if (this.holders > 0 || this.options.connection) return;
    const opened = this.connection.peek();
    this.connection.reset();
    void opened?.then(
      (handle) => handle.release(),
      () => {},
    );
  }

  /**
   * A disconnect fails every call and stream in flight: their messages may be lost, and NATS
   * would not tell us. Listeners stay: NATS restores their subscriptions on reconnect.
   */
  private async open(): Promise<NatsHandle> {
    const handle: NatsHandle = await openNatsConnection(
      { ...this.options, connectOptions: { ...WRITE_EVERY, ...this.options.connectOptions }, logger: this.log },
      { plugin: "nats transport", name: "ts-micro transport", onDisconnect: (server) => this.lose(handle.nc, `nats connection to ${server} lost`) },
    );
    void handle.nc.closed().then(() => this.lose(handle.nc, "nats connection closed"));
    return handle;
  }

  private lose(nc: NatsConnection, reason: string): void {
    // A connection we closed after its last user left, or replaced since, has nobody to tell.
    void this.connection.peek()?.then(
      (current) => {
        if (current.nc === nc) for (const user of [...this.users]) user.connectionLost(reason);
      },
      () => {},
    );
  }
}

function randomId(): string {
  return randomBytes(12).toString("hex");
}
