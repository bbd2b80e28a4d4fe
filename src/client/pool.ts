import type { ClientConnection, Transport } from "../transport/transport.js";

/** `conn` if its server may serve `service`; else a rejection (NotDeliveredError) saying why. */
function verified(conn: ClientConnection, service: string): ClientConnection | Promise<ClientConnection> {
  try {
    conn.verifyService?.(service);
    return conn;
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * One connection per server address, shared by every call to it (the mux transport multiplexes
 * calls on it). A closed or failed connection is replaced on the next call; concurrent callers
 * share one dial.
 */
export class ConnectionPool {
  private readonly connections = new Map<string, ClientConnection>();
  private readonly dialing = new Map<string, Promise<ClientConnection>>();
  private closed = false;

  constructor(private readonly transport: Transport) {}

  /**
   * The connection to `address`, for a call to `service`: a connection whose TLS certificate must
   * name the service (verifyService) and does not is refused with NotDeliveredError.
   */
  get(address: string, service: string): ClientConnection | Promise<ClientConnection> {
    const conn = this.connections.get(address);
    if (conn && !conn.closed) {
      if (conn.verifyService) return verified(conn, service);
      return conn;
    }
    const dialing = this.dialing.get(address) ?? this.dial(address);
    return dialing.then((dialed) => (dialed.verifyService ? verified(dialed, service) : dialed));
  }

  /** Asks the open connection to `address`, if any, to check its peer within `timeout` ms. */
  probe(address: string, timeout: number): void {
    this.connections.get(address)?.probe?.(timeout);
  }

  close(): void {
    this.closed = true;
    for (const conn of this.connections.values()) conn.close();
    this.connections.clear();
  }

  private dial(address: string): Promise<ClientConnection> {
    const dialing = this.transport.dial(address).then(
      (conn) => {
        this.dialing.delete(address);
        // A dial that finishes after close() would otherwise hold its socket (and the process) open.
        if (this.closed) {
          conn.close();
          return conn;
        }
        this.connections.get(address)?.close();
        this.connections.set(address, conn);
        return conn;
      },
      (err: unknown) => {
        this.dialing.delete(address);
        throw err;
      },
    );
    this.dialing.set(address, dialing);
    return dialing;
  }
}
