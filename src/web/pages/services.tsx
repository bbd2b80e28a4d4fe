/** Every registered service: versions, node count, endpoints and the topics it subscribes to. */
import { useState } from "preact/hooks";
import type { ServiceRecord } from "../api.js";
import { href } from "../route.js";
import { isSubscription } from "../shapes.js";

interface Row {
  name: string;
  versions: string[];
  nodes: number;
  endpoints: Set<string>;
  topics: Set<string>;
}

/** One row per service name, whatever its versions. */
function rows(services: ServiceRecord[]): Row[] {
  const byName = new Map<string, Row>();
  for (const s of services) {
    const row = byName.get(s.name) ?? { name: s.name, versions: [], nodes: 0, endpoints: new Set(), topics: new Set() };
    row.versions.push(s.version || "latest");
    row.nodes += s.nodes?.length ?? 0;
    for (const e of s.endpoints ?? []) {
      if (isSubscription(e)) row.topics.add(e.metadata?.topic ?? "(no topic)");
      else row.endpoints.add(e.name);
    }
    byName.set(s.name, row);
  }
  return [...byName.values()];
}

export function ServicesPage({ services, internal }: { services: ServiceRecord[] | null; internal: readonly string[] }) {
  const [showInternal, setShowInternal] = useState(false);
  if (services === null) return <p class="muted">Loading the registry…</p>;
  const hidden = new Set(services.filter((s) => internal.includes(s.name)).map((s) => s.name));
  const list = rows(showInternal ? services : services.filter((s) => !hidden.has(s.name)));
  const nodes = list.reduce((n, row) => n + row.nodes, 0);
  return (
    <section>
      <h1>Services</h1>
      <p class="muted summary">
        {list.length} service{list.length === 1 ? "" : "s"} on {nodes} node{nodes === 1 ? "" : "s"}, updated live from the registry.
        {hidden.size > 0 && (
          <label class="toggle">
            <input type="checkbox" checked={showInternal} onChange={(e) => setShowInternal((e.target as HTMLInputElement).checked)} />
            show the framework's own ({[...hidden].join(", ")})
          </label>
        )}
      </p>
      {list.length === 0 ? (
        <p class="notice">No services are registered. Start one (e.g. `npm start`) and it appears here.</p>
      ) : (
        <table class="list" data-testid="services">
          <thead>
            <tr>
              <th>Service</th>
              <th>Versions</th>
              <th class="num">Nodes</th>
              <th class="num">Endpoints</th>
              <th />
              <th>Subscribes to</th>
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
                <td class="num">{row.endpoints.size}</td>
                <td>
                  <span class="chips">
                    {[...row.endpoints].sort().map((e) => (
                      <a key={e} class="chip" href={href.endpoint(row.name, e)}>
                        {e}
                      </a>
                    ))}
                  </span>
                </td>
                <td class="mono">{[...row.topics].sort().join(", ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
