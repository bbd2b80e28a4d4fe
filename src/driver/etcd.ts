/** etcd endpoints, shared by the etcd registry and the etcd sync. */

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
