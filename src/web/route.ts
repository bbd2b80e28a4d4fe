/**
 * Hash routes, so every page is one file the gateway serves at "/":
 * `#/` services · `#/service/NAME` · `#/service/NAME/ENDPOINT` · `#/topics` · `#/events`.
 */
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "services" }
  | { page: "service"; name: string; endpoint?: string }
  | { page: "topics" }
  | { page: "events" }
  | { page: "missing"; path: string };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: "services" };
  if (parts[0] === "service" && parts[1]) return { page: "service", name: parts[1], endpoint: parts[2] };
  if (parts[0] === "topics") return { page: "topics" };
  if (parts[0] === "events") return { page: "events" };
  return { page: "missing", path: hash };
}

export const href = {
  services: "#/",
  service: (name: string) => `#/service/${encodeURIComponent(name)}`,
  endpoint: (name: string, endpoint: string) => `#/service/${encodeURIComponent(name)}/${encodeURIComponent(endpoint)}`,
  topics: "#/topics",
  events: "#/events",
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
