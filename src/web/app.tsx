/**
 * The dashboard shell: navigation, the live registry (one event stream shared by every page) and
 * the page for the current route.
 */
import { useEffect, useState } from "preact/hooks";
import { api, type Info, listen, type MicroErrorJSON, type ServiceRecord } from "./api.js";
import { EventsPage } from "./pages/events.js";
import { ServicePage } from "./pages/service.js";
import { ServicesPage } from "./pages/services.js";
import { TopicsPage } from "./pages/topics.js";
import { href, type Route, useRoute } from "./route.js";

export type Connection = "connecting" | "live" | "lost";

export function App() {
  const route = useRoute();
  const [services, setServices] = useState<ServiceRecord[] | null>(null);
  const [connection, setConnection] = useState<Connection>("connecting");
  const [info, setInfo] = useState<Info | null>(null);
  const [problem, setProblem] = useState<MicroErrorJSON | null>(null);
  useEffect(() => {
    void api.info().then((r) => r.ok && setInfo(r.value));
    return listen(
      "watch",
      {
        services: (data) => {
          setServices(data as ServiceRecord[]);
          setProblem(null);
          setConnection("live");
        },
        failure: (error) => setProblem(error as MicroErrorJSON),
        disconnected: () => setConnection("lost"),
      },
      true,
    );
  }, []);
  return (
    <>
      <header class="bar">
        <a class="brand" href={href.services}>
          ts-micro
        </a>
        <nav>
          <a class={route.page === "services" || route.page === "service" ? "active" : ""} href={href.services}>
            Services
          </a>
          <a class={route.page === "topics" ? "active" : ""} href={href.topics}>
            Topics
          </a>
          <a class={route.page === "events" ? "active" : ""} href={href.events}>
            Events
          </a>
        </nav>
        <span class={`conn ${connection}`} data-testid="connection" title={info ? `registry ${info.registry} · broker ${info.broker}` : ""}>
          {connection === "live" ? "live" : connection === "lost" ? "reconnecting…" : "connecting…"}
        </span>
      </header>
      <main>
        {problem && (
          <p class="notice" data-testid="registry-problem">
            {problem.detail}. The page shows the last services it saw.
          </p>
        )}
        <Page route={route} services={services} info={info} />
      </main>
    </>
  );
}

function Page({ route, services, info }: { route: Route; services: ServiceRecord[] | null; info: Info | null }) {
  switch (route.page) {
    case "services":
      return <ServicesPage services={services} internal={info?.internal ?? []} />;
    case "service":
      return <ServicePage name={route.name} endpoint={route.endpoint} services={services} />;
    case "topics":
      return <TopicsPage services={services} />;
    case "events":
      return <EventsPage info={info} />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            No page {route.path}. <a href={href.services}>Services</a>
          </p>
        </section>
      );
  }
}
