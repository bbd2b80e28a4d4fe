import type { ServiceRecord } from "../api.js";
import { href } from "../route.js";

interface Row {
  name: string;
  versions: string[];
  nodes: number;
  endpoints: number;
}

/** One row per service name, whatever its versions. */
function rows(services: ServiceRecord[]): Row[] {
  const byName = new Map<string, Row>();
  for (const s of services) {
    const row = byName.get(s.name) ?? { name: s.name, versions: [], nodes: 0, endpoints: 0 };
    row.versions.push(s.version || "latest");
    row.nodes += s.nodes?.length ?? 0;
    row.endpoints = Math.max(row.endpoints, s.endpoints?.length ?? 0);
    byName.set(s.name, row);
  }
  return [...byName.values()];
}

export function ServicesPage({ services }: { services: ServiceRecord[] | null }) {
  if (services === null) return <p class="muted">Loading the registry…</p>;
  const list = rows(services);
  return (
    <section>
      <h1>Services</h1>
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
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
