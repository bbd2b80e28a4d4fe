/**
 * mTLS from nothing, across processes: `micro auth certs` makes a CA once and certificates for a
 * service and two clients; the whoami service started with the printed MICRO_TLS_* lines and
 * MICRO_AUTH=jwt checks a caller without a token as the account its certificate names (scopes
 * from the accounts store, none without an account), so the rules decide; and a client with
 * MICRO_TLS_VERIFY_SERVICE refuses a forged registry record that sends another service's calls
 * to whoami's TLS server.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { generateKeyPair } from "../../src/auth/jwt.js";
import { LocalRegistry } from "../../src/registry/local.js";
import { cli, fixture, runCli, type ServiceProcess, startProcess, stopAll, tempRegistry } from "./harness.js";

/** `NAME=value` lines of `micro auth certs` output, by the name (comment lines skipped). */
function envLines(printed: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of printed.split("\n")) {
    const at = line.indexOf("=");
    if (line.startsWith("#") || at < 0) continue;
    env[line.slice(0, at)] = line.slice(at + 1);
  }
  return env;
}

// The same over the default server (mux) and over gRPC (MICRO_SERVER=grpc): the MICRO_TLS_* lines
// secure both, and the CLI's client dials either with them.
for (const server of ["mucp", "grpc"] as const) {
  describe(`micro auth certs, mTLS identities and service names across processes (MICRO_SERVER=${server})`, () => {
    const registryDir = tempRegistry();
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-mtls-"));
    const certDir = path.join(work, "certs");
    const keys = generateKeyPair();
    const base = {
      MICRO_REGISTRY_ADDRESS: registryDir,
      MICRO_STORE_ADDRESS: path.join(work, "store"),
      MICRO_AUTH: "jwt",
      MICRO_AUTH_PUBLIC_KEY: keys.publicKey,
      MICRO_AUTH_PRIVATE_KEY: keys.privateKey,
      MICRO_SERVER: server,
    };
    const processes: ServiceProcess[] = [];
    const registry = new LocalRegistry({ path: registryDir });
    let serviceEnv: Record<string, string> = {};
    const clientEnv: Record<string, Record<string, string>> = {};

    const micro = async (...args: string[]) => {
      const result = await runCli(args, base);
      assert.equal(result.code, 0, `micro ${args.join(" ")}: ${result.stderr}`);
      return result.stdout;
    };

    before(async () => {
      serviceEnv = envLines(await micro("auth", "certs", "whoami", "--host", "node1.internal,10.1.2.3", "--dir", certDir));
      const clients = await micro("auth", "certs", "alice", "bob", "--client", "--dir", certDir);
      for (const block of clients.split(/^# client /m).slice(1)) clientEnv[block.split("\n")[0]] = envLines(block);
      await micro("auth", "account", "create", "alice", "--scopes", "whoami", "--type", "service");
      await micro("auth", "rules", "grant", "whoami-am", "--resource", "service:whoami:Who.Am", "--scope", "whoami");
      await micro("auth", "rules", "grant", "whoami-open", "--resource", "service:whoami:Who.Open", "--scope", "*");
      processes.push(await startProcess(fixture("whoami-service"), { ...base, ...serviceEnv }));
    });

    after(async () => {
      stopAll(processes);
      await registry.close();
      fs.rmSync(work, { recursive: true, force: true });
    });

    it("micro auth certs: one CA, kept; node certificates named after the service; eval-able MICRO_TLS_* lines", async () => {
      const [registered] = (await registry.getService("whoami"))[0]?.nodes ?? [];
      assert.equal(registered?.metadata?.protocol, server === "grpc" ? "grpc" : "mucp");
      assert.equal(registered?.metadata?.secure, "true");
      assert.deepEqual(Object.keys(serviceEnv).sort(), [
        "MICRO_TLS_CA",
        "MICRO_TLS_CERT",
        "MICRO_TLS_CLIENT_AUTH",
        "MICRO_TLS_KEY",
        "MICRO_TLS_VERIFY_SERVICE",
        "MICRO_TRANSPORT_SECURE",
      ]);
      assert.equal(serviceEnv.MICRO_TLS_CLIENT_AUTH, "require");
      const ca = new X509Certificate(fs.readFileSync(serviceEnv.MICRO_TLS_CA));
      const node = new X509Certificate(fs.readFileSync(serviceEnv.MICRO_TLS_CERT));
      assert.equal(node.subject, "CN=whoami");
      assert.equal(node.subjectAltName, "DNS:whoami, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:node1.internal, IP Address:10.1.2.3");
      assert.ok(node.verify(ca.publicKey), "signed by the CA");
      assert.equal(fs.statSync(serviceEnv.MICRO_TLS_KEY).mode & 0o077, 0, "the key is private");
      const alice = new X509Certificate(fs.readFileSync(clientEnv.alice.MICRO_TLS_CERT));
      assert.equal(alice.subject, "CN=alice");
      assert.ok(alice.verify(ca.publicKey), "clients are signed by the same CA");
      assert.equal(clientEnv.alice.MICRO_TLS_CLIENT_AUTH, undefined);
      // A second run keeps the CA.
      const again = await micro("auth", "certs", "--dir", certDir);
      assert.match(again, /\(existing;/);
      assert.equal(new X509Certificate(fs.readFileSync(serviceEnv.MICRO_TLS_CA)).fingerprint256, ca.fingerprint256);
      const bad = await runCli(["auth", "certs", "../evil", "--dir", certDir], base);
      assert.equal(bad.code, 2, bad.stdout);
      assert.match(bad.stderr, /certificate name "\.\.\/evil"/);
      // eval-able as the docs say, also from a directory whose path needs quoting.
      const spaced = path.join(work, "my certs");
      const evaluated = execFileSync("sh", ["-c", 'set -a; eval "$("$NODE" "$CLI" auth certs svc --dir "$DIR")"; printf %s "$MICRO_TLS_CERT"'], {
        env: { ...process.env, NODE: process.execPath, CLI: cli, DIR: spaced },
        encoding: "utf8",
        timeout: 15_000,
      });
      assert.equal(evaluated, path.join(spaced, "svc.crt"));
      const noOpenssl = await runCli(["auth", "certs", "x", "--dir", path.join(work, "none")], { ...base, PATH: "/nonexistent" });
      assert.equal(noOpenssl.code, 1, noOpenssl.stdout);
      assert.match(noOpenssl.stderr, /the openssl command was not found: install OpenSSL/);
    });

    const call = (endpoint: string, env: Record<string, string>) => runCli(["call", "whoami", endpoint, "{}", "--timeout", "5s"], { ...base, ...env });

    it("checks a caller without a token as its certificate's account: scopes from the store, never more than the rules grant", async () => {
      const asAlice = await call("Who.Am", clientEnv.alice);
      assert.equal(asAlice.code, 0, asAlice.stderr);
      const seen = JSON.parse(asAlice.stdout);
      assert.equal(seen.certificate, "alice");
      assert.equal(seen.account.id, "alice");
      assert.equal(seen.account.type, "service");
      assert.deepEqual(seen.account.scopes, ["whoami"]);

      // bob's certificate is as valid, but no account gives it a scope: any-account rules only.
      const bobOpen = await call("Who.Open", clientEnv.bob);
      assert.equal(bobOpen.code, 0, bobOpen.stderr);
      assert.deepEqual(JSON.parse(bobOpen.stdout).account.scopes, []);
      const bobAm = await call("Who.Am", clientEnv.bob);
      assert.equal(bobAm.code, 1, bobAm.stdout);
      const refused = JSON.parse(bobAm.stderr);
      assert.equal(refused.code, 403);
      assert.match(refused.detail, /access denied to Who\.Am for certificate bob/);

      // A bearer token wins over the certificate: bob holding alice's token is alice.
      const secret = JSON.parse(await micro("auth", "account", "create", "carol", "--scopes", "whoami")).secret as string;
      const token = (await micro("auth", "token", "--id", "carol", "--secret", secret)).trim();
      const withToken = await call("Who.Am", { ...clientEnv.bob, MICRO_AUTH_TOKEN: token });
      assert.equal(withToken.code, 0, withToken.stderr);
      assert.equal(JSON.parse(withToken.stdout).account.id, "carol");
      assert.equal(processes[0]?.child.exitCode, null, "whoami is still serving");
    });

    it("MICRO_TLS_VERIFY_SERVICE: a forged record sending payments' calls to whoami's TLS server is refused", async () => {
      const [whoami] = await registry.getService("whoami");
      const node = whoami?.nodes[0];
      assert.ok(node, "whoami is registered");
      await registry.register({
        name: "payments",
        version: "1.0.0",
        metadata: null,
        endpoints: null,
        nodes: [{ id: "payments-forged", address: node.address, metadata: node.metadata }],
      });
      const forged = await runCli(["call", "payments", "Who.Open", "{}", "--timeout", "5s"], { ...base, ...clientEnv.alice, MICRO_TLS_VERIFY_SERVICE: "true" });
      assert.equal(forged.code, 1, forged.stdout);
      assert.match(forged.stderr, /certificate names whoami, localhost, node1\.internal, not the service payments/);
      // The same client reaches whoami, whose certificate names it, with the address not checked.
      const real = await runCli(["call", "whoami", "Who.Open", "{}", "--timeout", "5s"], { ...base, ...clientEnv.alice, MICRO_TLS_VERIFY_SERVICE: "true" });
      assert.equal(real.code, 0, real.stderr);
      // Without the check the forged record would have been served by whoami.
      const unchecked = await runCli(["call", "payments", "Who.Open", "{}", "--timeout", "5s"], { ...base, ...clientEnv.alice });
      assert.equal(unchecked.code, 0, unchecked.stderr);
      assert.equal(JSON.parse(unchecked.stdout).certificate, "alice");
    });
  });
}
