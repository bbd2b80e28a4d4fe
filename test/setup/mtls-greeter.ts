/**
 * The greeter as a process serving under mTLS, switched on by environment only, for the process
 * tests of a transport over TLS: certificates and a registry made for the suite, the greeter
 * started before it and everything removed after (call inside a `describe`).
 */
import assert from "node:assert/strict";
import { after, before } from "node:test";
import { LocalRegistry } from "../../src/registry/local.js";
import { fixture, runCli, type ServiceProcess, startProcess, stopAll, tempRegistry } from "../process/harness.js";
import { makeTestCerts, type TestCerts, tlsEnv } from "./certs.js";

type Env = Record<string, string>;

export interface MtlsGreeter {
  certs: TestCerts;
  registry: LocalRegistry;
  /** The greeter's process, once started. */
  processes: ServiceProcess[];
  /** A client's settings trusting the CA, without a certificate of its own. */
  base: Env;
  /** `base` with the client certificate from the CA. */
  clientEnv: Env;
  /** The registry and transport settings alone, without TLS. */
  plaintext: Env;
  /** `micro call greeter Greeter.Hello {"name":"Ada"}` run with `env`. */
  hello(env: Env): ReturnType<typeof runCli>;
  /** Each call is refused (exit 1) for its reason, and the greeter serves the right client after each. */
  assertRefused(refusals: Array<[what: string, env: Env, reason: RegExp]>): Promise<void>;
}

/** `transport`: the settings that choose the transport (none for the default). */
export function mtlsGreeter(transport: Env = {}): MtlsGreeter {
  const certs = makeTestCerts();
  const registryDir = tempRegistry();
  const plaintext = { MICRO_REGISTRY_ADDRESS: registryDir, ...transport };
  const base = { ...plaintext, ...tlsEnv(certs) };
  const serverEnv = { ...plaintext, ...tlsEnv(certs, certs.server, "require") };
  const clientEnv = { ...plaintext, ...tlsEnv(certs, certs.client) };
  const processes: ServiceProcess[] = [];
  const registry = new LocalRegistry({ path: registryDir });

  before(async () => {
    processes.push(await startProcess(fixture("greeter-service"), serverEnv));
  });
  after(async () => {
    stopAll(processes);
    await registry.close();
    certs.remove();
  });

  const hello = (env: Env) => runCli(["call", "greeter", "Greeter.Hello", '{"name":"Ada"}', "--timeout", "5s"], env);
  const assertRefused = async (refusals: Array<[string, Env, RegExp]>): Promise<void> => {
    for (const [what, env, reason] of refusals) {
      const { code, stdout, stderr } = await hello(env);
      assert.equal(code, 1, `${what}: ${stdout}`);
      assert.match(stderr, reason, what);
      const good = await hello(clientEnv);
      assert.equal(good.code, 0, `serves a good client after refusing ${what}: ${good.stderr}`);
    }
  };
  return { certs, registry, processes, base, clientEnv, plaintext, hello, assertRefused };
}
