import { useState } from "preact/hooks";
import type { ServiceRecord } from "../api.js";
import { href } from "../route.js";
import { isSubscription } from "../shapes.js";

interface Row {
  name: string;
  versions: string[];
  nodes: number;
  endpoints: number;
  subscriptions: number;
}

/** One row per service name, whatever its versions. */
function rows(services: ServiceRecord[]): Row[] {
  const byName = new Map<string, Row>();
  for (const s of services) {
    const row = byName.get(s.name) ?? { name: s.name, versions: [], nodes: 0, endpoints: 0, subscriptions: 0 };
    const endpoints = s.endpoints ?? [];
    const subscriptions = endpoints.filter(isSubscription).length;
    row.versions.push(s.version || "latest");
    row.nodes += s.nodes?.length ?? 0;
    row.endpoints = Math.max(row.endpoints, endpoints.length - subscriptions);
    row.subscriptions = Math.max(row.subscriptions, subscriptions);
    byName.set(s.name, row);
  }
  return [...byName.values()];
}

export function ServicesPage({ services, internal }: { services: ServiceRecord[] | null; internal: readonly string[] }) {
  const [showInternal, setShowInternal] = useState(false);
  if (services === null) return <p class="muted">Loading the registry…</p>;
  const hidden = new Set(services.filter((s) => internal.includes(s.name)).map((s) => s.name));
  const list = rows(showInternal ? services : services.filter((s) => !hidden.has(s.name)));
  return (
    <section>
      <h1>Services</h1>
      {hidden.size > 0 && (
        <label class="toggle">
          <input type="checkbox" checked={showInternal} onChange={(e) => setShowInternal((e.target as HTMLInputElement).checked)} /> show the framework's own
          services ({[...hidden].join(", ")})
        </label>
      )}
      {list.length === 0 ? (
        <p class="muted">No services are registered. Start one (e.g. `npm start`) and it appears here.</p>
      ) : (
        <table class="list" data-testid="services">
          <thead>
            <tr>
              <th>Service</th>
              <th>Versions</th>
              <th class="num">Nodes</th>
              <th class="num">Endpoints</th>
              <th class="num">Subscriptions</th>
            </tr>
          </thead>
          <tbody>
            {list.map((row) => (
              <tr key={row.name} data-service={row.name}>
                <td>
                  <a href={href.service(row.name)}>{row.name}</a>
                </td>
                <td>{row.versions.join(", ")}</td>
                <td class="num">{row.nodes}</td>
                <td class="num">{row.endpoints}</td>
                <td class="num">{row.subscriptions}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
