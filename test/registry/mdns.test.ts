/**
 * The mdns registry: Go Micro's record format, the conformance suite, and discovery plus a call
 * between two network namespaces (two "hosts" on a private link). Multicast never touches the
 * machine's real interfaces: everything that sends runs inside the test's namespaces.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { inflateSync } from "node:zlib";
import { generateKeyPair } from "../../src/auth/jwt.js";
import { rsaKey, rsaSigner, rsaVerifier } from "../../src/auth/signing.js";
import { MdnsRegistry } from "../../src/registry/mdns.js";
import { decodeTxt, encodeTxt, entriesOf, entryToRecord, listingRecords, nodeRecords } from "../../src/registry/mdns-records.js";
import { NODE_SIGNATURE, signedContent } from "../../src/registry/signature.js";
import { makeService } from "../conformance/registry.js";
import { cli, distRoot, fixture } from "../process/harness.js";
import { createNetnsPair, type Namespace, type NetnsPair } from "../setup/netns.js";

describe("mdns records in Go Micro's format", () => {
  it("encodes the TXT as hex(zlib(json)) in 255-character strings with Go's keys", () => {
    const service = makeService("greeter", "1.0.0", ["a"]);
    service.endpoints = Array.from({ length: 20 }, (_, i) => ({ name: `Greeter.Method${i}`, request: null, response: null, metadata: { i: String(i) } }));
    const strings = encodeTxt(service);
    assert.ok(strings.length > 1, "long records are split");
    assert.ok(strings.slice(0, -1).every((s) => s.length === 255) && strings.at(-1)!.length <= 255);
    const hex = strings.join("");
    assert.match(hex, /^789c[0-9a-f]+$/, "zlib with the default-compression header, lowercase hex");
    const json = JSON.parse(inflateSync(Buffer.from(hex, "hex")).toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json).slice(0, 4), ["Metadata", "Service", "Version", "Endpoints"]);
    assert.deepEqual(json.Metadata, service.nodes[0].metadata, "node metadata, as Go Micro");
    assert.equal(decodeTxt(strings)?.Service, "greeter");
  });

  it("builds Go Micro's names and records, and reads them back", () => {
    const service = makeService("go.micro.srv.greeter", "latest", ["x"]);
    service.nodes[0].address = "10.0.0.7:54321";
    const records = nodeRecords(service, "myhost", 90, "micro");
    assert.deepEqual(
      records.map((r) => [r.type, r.name]),
      [
        ["PTR", "go.micro.srv.greeter.micro"],
        ["SRV", "go.micro.srv.greeter-x.go.micro.srv.greeter.micro"],
        ["A", "myhost"],
        ["TXT", "go.micro.srv.greeter-x.go.micro.srv.greeter.micro"],
      ],
    );
    const [entry] = entriesOf({ type: "response", answers: records });
    assert.equal(entry.ttl, 90);
    assert.deepEqual(entryToRecord(entry, "micro"), service);
    const listing = listingRecords("greeter", "myhost", 120, "micro");
    assert.deepEqual(listing[0], { type: "PTR", name: "_services.micro", ttl: 120, data: "greeter._services.micro" });
  });
});

describe("signed records over mdns", () => {
  it("a node's signature still verifies after its record went through mdns's DNS records, and fails once the address is changed", () => {
    const keys = generateKeyPair();
    const signer = rsaSigner(rsaKey(keys.privateKey, "private"));
    const verifier = rsaVerifier(rsaKey(keys.publicKey, "public"));
    const service = makeService("greeter", "1.0.0", ["a"]);
    service.nodes[0].address = "10.0.0.7:54321";
    service.nodes[0].metadata = { ...service.nodes[0].metadata, [NODE_SIGNATURE]: signer.sign(signedContent(service, service.nodes[0])) };
    const [entry] = entriesOf({ type: "response", answers: nodeRecords(service, "myhost", 90, "micro") });
    const heard = entryToRecord(entry, "micro")!;
    const node = heard.nodes[0];
    assert.ok(verifier.verify(signedContent(heard, node), node.metadata![NODE_SIGNATURE]), "the signature survives the TXT encoding");
    const moved = { ...node, address: "10.0.0.8:54321" };
    assert.equal(verifier.verify(signedContent(heard, moved), node.metadata![NODE_SIGNATURE]), false, "a copied signature on another address fails");
  });
});

describe("mdns registry input checks (no socket is opened)", () => {
  it("refuses a node id longer than a DNS label, which Go Micro drops silently", async () => {
    const registry = new MdnsRegistry({ interface: "127.0.0.1" });
    const service = makeService("a-service-name-long-enough-to-overflow", "1.0.0", ["0123456789abcdef0123456789abcdef"]);
    await assert.rejects(registry.register(service), /too long for DNS/);
    service.nodes = [{ id: "short", address: "host.example:80", metadata: null }];
    await assert.rejects(registry.register(service), /is not ip:port/);
    await registry.close();
  });
});

describe("mdns between two network namespaces", () => {
  let net: NetnsPair;
  const children: ChildProcess[] = [];
  before(() => {
    net = createNetnsPair(); // throws, failing every test here, with the reason, when not root
  });
  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    net?.dispose();
  });

  function run(
    ns: Namespace,
    script: string,
    args: string[],
    env: Record<string, string>,
  ): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
    const { command, args: full } = net.exec(ns, process.execPath, [script, ...args]);
    const child = spawn(command, full, { env: { ...process.env, MICRO_LOG_LEVEL: "warn", ...env }, stdio: ["pipe", "pipe", "pipe"] });
    children.push(child);
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    return { child, output: () => output, exited };
  }

  async function waitForOutput(proc: { output: () => string }, pattern: RegExp, timeout: number, what: string): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const match = pattern.exec(proc.output());
      if (match) return match;
      if (Date.now() > deadline) throw new Error(`${what} not seen in ${timeout} ms; output:\n${proc.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it("passes the registry conformance suite inside a namespace", { timeout: 120_000 }, async () => {
    const suite = path.join(distRoot, "test", "registry", "fixtures", "mdns-conformance.js");
    const { command, args } = net.exec(net.a, process.execPath, ["--test", "--test-reporter=spec", suite]);
    // Without NODE_TEST_CONTEXT, which would make the child think it runs inside our test runner.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn(command, args, { env: { ...env, MDNS_INTERFACE: net.a.ip }, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const code = await new Promise((resolve) => child.once("exit", resolve));
    assert.equal(code, 0, `conformance suite failed inside ${net.a.name}:\n${output}`);
    const passed = Number(/ℹ pass (\d+)/.exec(output)?.[1] ?? 0);
    assert.ok(/ℹ fail 0/.test(output) && passed >= 26, `both suites (mdns, cache over mdns) ran and passed:\n${output}`);
  });

  it("a client in one namespace finds and calls a service in the other; a killed node leaves watchers within its TTL", { timeout: 60_000 }, async () => {
    const name = `mdns-echo-${process.pid}`;
    const registryEnv = (ns: Namespace) => ({ MICRO_REGISTRY: "mdns", MICRO_REGISTRY_ADDRESS: ns.ip });
    const service = run(net.b, fixture("echo-service"), [], {
      ...registryEnv(net.b),
      SERVICE_NAME: name,
      MICRO_REGISTER_TTL: "3",
      MICRO_REGISTER_INTERVAL: "1",
    });
    const [, address] = await waitForOutput(service, /READY (\S+)/, 15_000, "service READY");
    assert.ok(address.startsWith(`${net.b.ip}:`), `advertises its link address, got ${address}`);

    const watch = run(net.a, fixture("../registry/fixtures/watch-registry"), [name], registryEnv(net.a));
    await waitForOutput(watch, /WATCHING/, 10_000, "watcher ready");

    const call = run(net.a, cli, ["call", name, "Echo.Echo", '{"hello":"mdns"}'], registryEnv(net.a));
    assert.equal(await call.exited, 0, `micro call across namespaces failed:\n${call.output()}`);
    assert.match(call.output(), /"hello":"mdns"/);

    await new Promise((resolve) => setTimeout(resolve, 1_200)); // at least one heartbeat heard by the watcher
    const killedAt = Date.now();
    service.child.kill("SIGKILL");
    const [line] = await waitForOutput(watch, /\{[^\n]*"action":"delete"[^\n]*\}/, 8_000, "watch delete event after kill -9");
    const gone = (JSON.parse(line) as { at: number }).at - killedAt;
    assert.ok(gone <= 3_000 + 1_500, `the killed node left within its 3 s TTL (+ sweep and lookup), took ${gone} ms`);
    watch.child.stdin!.end();
  });
});
