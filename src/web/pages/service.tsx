/** One service: its nodes (with health) and endpoints, and the call form of the chosen endpoint. */
import { useEffect, useState } from "preact/hooks";
import { api, type Endpoint, type Health, type Node, type ServiceRecord } from "../api.js";
import { href } from "../route.js";
import { isStream, isSubscription, subscriptions, typeText } from "../shapes.js";
import { CallForm } from "./call.js";

const HEALTH_EVERY_MS = 10_000;

export function ServicePage({ name, endpoint, services }: { name: string; endpoint?: string; services: ServiceRecord[] | null }) {
  if (services === null) return <p class="muted">Loading the registry…</p>;
  const versions = services.filter((s) => s.name === name);
  if (versions.length === 0) {
    return (
      <section>
        <p class="crumbs">
          <a href={href.services}>Services</a> /
        </p>
        <h1>{name}</h1>
        <p class="notice" data-testid="gone">
          {name} has no running nodes. It appears again here as soon as one registers.
        </p>
      </section>
    );
  }
  const endpoints = mergeEndpoints(versions);
  const topics = subscriptions(versions);
  const chosen = endpoints.find((e) => e.name === endpoint);
  return (
    <section>
      <p class="crumbs">
        <a href={href.services}>Services</a> /
      </p>
      <h1>{name}</h1>
      <h2>Nodes</h2>
      <table class="list" data-testid="nodes">
        <thead>
          <tr>
            <th>Node</th>
            <th>Address</th>
            <th>Version</th>
            <th>Metadata</th>
            <th>Health</th>
          </tr>
        </thead>
        <tbody>
          {versions.flatMap((s) =>
            s.nodes.map((node) => (
              <tr key={node.id} data-node={node.id}>
                <td class="mono">{node.id}</td>
                <td class="mono">{node.address}</td>
                <td>{s.version || "latest"}</td>
                <td>
                  <Metadata values={node.metadata} />
                </td>
                <td>
                  <HealthBadge service={name} node={node} />
                </td>
              </tr>
            )),
          )}
        </tbody>
      </table>
      <h2>Endpoints</h2>
      <div class="split">
        <ul class="endpoints" data-testid="endpoints">
          {endpoints.map((e) => (
            <li key={e.name}>
              <a class={e.name === endpoint ? "current" : ""} href={href.endpoint(name, e.name)}>
                {e.name}
              </a>
              {isStream(e) && <span class="tag">stream</span>}
            </li>
          ))}
          {endpoints.length === 0 && <li class="muted">none published</li>}
        </ul>
        <div class="detail">
          {chosen ? <EndpointDetail service={name} endpoint={chosen} /> : <p class="muted">Choose an endpoint to see its shapes and call it.</p>}
        </div>
      </div>
      {topics.length > 0 && (
        <>
          <h2>Subscriptions</h2>
          <table class="list" data-testid="subscriptions">
            <thead>
              <tr>
                <th>Topic</th>
                <th>Queue</th>
                <th>Handler</th>
              </tr>
            </thead>
            <tbody>
              {topics.map((t) => (
                <tr key={`${t.topic}/${t.handler}`} data-topic={t.topic}>
                  <td class="mono">
                    <a href={href.topics}>{t.topic}</a>
                  </td>
                  <td>{t.queue ?? <span class="muted">none (every subscriber gets each message)</span>}</td>
                  <td class="mono">{t.handler}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

/** The endpoints of every version, each name once (the newest registration's description wins). */
function mergeEndpoints(versions: ServiceRecord[]): Endpoint[] {
  const byName = new Map<string, Endpoint>();
  for (const s of versions) for (const e of s.endpoints ?? []) if (!isSubscription(e)) byName.set(e.name, e);
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function EndpointDetail({ service, endpoint }: { service: string; endpoint: Endpoint }) {
  const description = endpoint.metadata?.description;
  return (
    <div data-testid="endpoint">
      <h3>
        {endpoint.name} {isStream(endpoint) && <span class="tag">stream</span>}
      </h3>
      {description && <p>{description}</p>}
      <div class="shapes">
        <div>
          <h4>Request</h4>
          <pre>{typeText(endpoint.request)}</pre>
        </div>
        <div>
          <h4>Response</h4>
          <pre>{typeText(endpoint.response)}</pre>
        </div>
      </div>
      <CallForm key={`${service}/${endpoint.name}`} service={service} endpoint={endpoint} />
    </div>
  );
}

function Metadata({ values }: { values: Record<string, string> | null }) {
  const entries = Object.entries(values ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return <span class="muted">none</span>;
  return (
    <span class="chips">
      {entries.map(([key, value]) => (
        <span key={key} class="chip" title={`${key}=${value}`}>
          <b>{key}</b> {value}
        </span>
      ))}
    </span>
  );
}

/** `Debug.Health` of the node, asked again every few seconds while shown. */
function HealthBadge({ service, node }: { service: string; node: Node }) {
  const [health, setHealth] = useState<Health | null>(null);
  useEffect(() => {
    let live = true;
    const check = async () => {
      const result = await api.health(service, node.address);
      if (live) setHealth(result.ok ? result.value : { status: "unreachable", error: result.error });
    };
    void check();
    const timer = setInterval(check, HEALTH_EVERY_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [service, node.address]);
  if (!health) return <span class="badge">…</span>;
  const kind = health.status === "ok" ? "ok" : health.status === "down" || health.status === "unreachable" ? "bad" : "";
  const label = health.status === "unsupported" ? "no Debug.Health" : health.status;
  return (
    <span class={`badge ${kind}`} title={health.error?.detail ?? ""} data-health={health.status}>
      {label}
    </span>
  );
}
