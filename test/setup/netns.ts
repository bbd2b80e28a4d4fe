/**
 * Two network namespaces joined by a veth pair, so mDNS tests multicast on a private link and
 * never on the machine's real interfaces. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN); when the
 * namespaces can't be made, createNetnsPair throws the reason, and the test fails with it.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";

export interface Namespace {
  name: string;
  /** This end's address on the link. */
  ip: string;
  device: string;
}

export interface NetnsPair {
  a: Namespace;
  b: Namespace;
  /** `ip netns exec <ns> <command…>` as a command and its arguments. */
  exec(ns: Namespace, command: string, args: string[]): { command: string; args: string[] };
  dispose(): void;
}

function ip(args: string[]): void {
  const result = spawnSync("ip", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")}: ${(result.stderr || result.error?.message || "failed").trim()}`);
}

export function createNetnsPair(): NetnsPair {
  const id = randomBytes(3).toString("hex");
  const subnet = `10.231.${parseInt(id.slice(0, 2), 16)}`;
  const a: Namespace = { name: `tsm-a-${id}`, ip: `${subnet}.1`, device: `tsma${id}` };
  const b: Namespace = { name: `tsm-b-${id}`, ip: `${subnet}.2`, device: `tsmb${id}` };
  const dispose = (): void => {
    for (const ns of [a, b]) spawnSync("ip", ["netns", "del", ns.name]); // takes its end of the veth with it
  };
  try {
    ip(["netns", "add", a.name]);
    ip(["netns", "add", b.name]);
    ip(["link", "add", a.device, "type", "veth", "peer", "name", b.device]);
    for (const ns of [a, b]) {
      ip(["link", "set", ns.device, "netns", ns.name]);
      ip(["-n", ns.name, "addr", "add", `${ns.ip}/24`, "dev", ns.device]);
      ip(["-n", ns.name, "link", "set", ns.device, "up"]);
      ip(["-n", ns.name, "link", "set", "lo", "up"]);
      // Multicast leaves by the test link, the namespace's only real interface.
      ip(["-n", ns.name, "route", "add", "224.0.0.0/4", "dev", ns.device]);
    }
  } catch (err) {
    dispose();
    throw new Error(`cannot create network namespaces for the mDNS tests (${(err as Error).message}); run the tests as root (CI does), e.g. sudo npm test`);
  }
  return {
    a,
    b,
    exec: (ns, command, args) => ({ command: "ip", args: ["netns", "exec", ns.name, command, ...args] }),
    dispose,
  };
}
