/** etcd endpoints, TLS settings and client options, shared by the etcd registry, sync and config source. */
import type { IOptions } from "etcd3";

/**
 * TLS, as PEM contents (read files with fs.readFileSync): `ca` is the CA that signed etcd's
 * certificate (default: the system's CAs); `cert` and `key` are this client's, for an etcd that
 * checks client certificates.
 */
export interface EtcdTlsOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

/**
 * Endpoints from `host:port`, `scheme://host:port`, a comma-separated list or an array; a host
 * without a scheme gets `scheme`, without a port etcd's 2379. Default `<scheme>://127.0.0.1:2379`.
 */
export function parseEtcdHosts(hosts: string | string[] | undefined, scheme: "http" | "https" = "http"): string[] {
  const list = (Array.isArray(hosts) ? hosts : (hosts ?? "").split(",")).map((h) => h.trim()).filter(Boolean);
  if (list.length === 0) return [`${scheme}://127.0.0.1:2379`];
  return list.map((host) => {
    const url = /^[a-z]+:\/\//i.test(host) ? host : `${scheme}://${host}`;
    return /:\d+\/?$/.test(url) ? url : `${url}:2379`;
  });
}

/** `tls`, checked: a client certificate needs its key (`plugin` names the user in the error). */
export function checkEtcdTls(tls: EtcdTlsOptions | undefined, plugin: string): EtcdTlsOptions | undefined {
  if (tls && (tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError(`${plugin}: tls.cert and tls.key go together (a client certificate needs its key)`);
  }
  return tls;
}

/**
 * TLS options as the driver (gRPC's createSsl) takes them: PEM buffers, the client pair only when
 * given. None at all for `https://` hosts is TLS trusting the system's CAs.
 */
export function etcdCredentials(tls: EtcdTlsOptions): IOptions["credentials"] {
  if (tls.ca === undefined && tls.cert === undefined) return undefined;
  const pem = (value: string | Buffer): Buffer => (typeof value === "string" ? Buffer.from(value) : value);
  const client = tls.cert !== undefined && tls.key !== undefined ? { certChain: pem(tls.cert), privateKey: pem(tls.key) } : {};
  // createSsl takes no root certificate as "the system's CAs"; the driver's type insists on one.
  return { rootCertificate: (tls.ca === undefined ? undefined : pem(tls.ca)) as Buffer, ...client };
}

/**
 * etcd3 client options for a plugin that must recover by itself from an etcd outage: `base`
 * (hosts, auth, TLS, dial timeout) plus no circuit breaker per host (after an outage the next
 * request reaches etcd at once, not after the breaker's half-open delay; requests have deadlines
 * instead), a dropped watch re-opened within 2 s (the driver's default backoff grows to 30 s), and
 * keepalive pings that notice a silent partition.
 */
export function resilientEtcdOptions(base: IOptions): IOptions {
  // async: the driver calls .catch() on what execute() returns, even for a function that throws.
  const passThrough = { execute: async (fn: (context: { signal: AbortSignal }) => unknown) => fn({ signal: new AbortController().signal }) };
  return {
    ...base,
    faultHandling: {
      host: () => passThrough as unknown as ReturnType<NonNullable<FaultHandling["host"]>>,
      watchBackoff: cappedBackoff(0) as unknown as FaultHandling["watchBackoff"],
    },
    grpcOptions: {
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 2_000,
      // etcd allows pings every 5 s and more rarely.
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 5_000,
    },
  };
}

type FaultHandling = NonNullable<IOptions["faultHandling"]>;

/** Cockatiel's IBackoff shape: 100 ms, doubling, at most 2 s. */
function cappedBackoff(attempt: number): { duration: number; next: () => unknown } {
  return { duration: Math.min(2_000, 100 * 2 ** attempt), next: () => cappedBackoff(attempt + 1) };
}
