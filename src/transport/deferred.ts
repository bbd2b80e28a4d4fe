/**
 * A transport whose implementation is imported on its first listen or dial, so that a process
 * that never uses it does not load its modules. The gRPC transport is one: every client can call
 * gRPC nodes, few do, and it brings node:http2 and a dozen modules of its own.
 */
import { Lazy } from "../driver/lazy.js";
import type { ClientConnection, Listener, ListenOptions, Transport } from "./transport.js";

/** What a transport says about itself before it is loaded. */
export interface TransportInfo {
  readonly name: string;
  readonly protocol?: string;
  readonly secure?: boolean;
}

export class DeferredTransport implements Transport {
  readonly name: string;
  readonly protocol?: string;
  readonly secure?: boolean;
  private readonly transport: Lazy<Transport>;

  constructor(info: TransportInfo, load: () => Promise<Transport>) {
    this.name = info.name;
    this.protocol = info.protocol;
    this.secure = info.secure;
    this.transport = new Lazy(load);
  }

  async listen(address: string, options: ListenOptions): Promise<Listener> {
    return (await this.transport.get()).listen(address, options);
  }

  async dial(address: string, options?: { timeout?: number }): Promise<ClientConnection> {
    return (await this.transport.get()).dial(address, options);
  }
}
