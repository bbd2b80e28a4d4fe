/**
 * `npm run bench` (suite `auth`): unary calls at concurrency 64 to the echo service with
 * MICRO_AUTH=jwt (every call's token checked, cached, and its rules verified) against the same
 * service without auth, and over TLS and mTLS (MICRO_TRANSPORT_SECURE, certificates made by openssl),
 * and mTLS + JWT with no token (each call checked as its client certificate's account), measured
 * in the same run. Prints one JSON line per measurement, then a table with the ratio to
 * the plain service. Targets (issue #21): JWT + rules ≥ 0.9 × plain; TLS ≥ 0.7 × plain.
 *
 *   node dist/bench/auth.js            3 repetitions × 5 s per point (median reported)
 *   node dist/bench/auth.js --quick    1 repetition × 2 s per point
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { generateKeyPair, JwtAuth } from "../src/auth/jwt.js";
import { FileStore } from "../src/store/file.js";
import { makeTestCerts } from "../test/setup/certs.js";
import { median, runLoad, startServer } from "./harness.js";
import type { LoadResult } from "./payload.js";

const quick = process.argv.includes("--quick");
const repetitions = quick ? 1 : 3;
const seconds = quick ? 2 : 5;
const warmup = quick ? 1 : 2;
const concurrency = 64;

const temp = (name: string) => fs.mkdtempSync(path.join(os.tmpdir(), `ts-micro-bench-${name}-`));
const storeDir = temp("auth-store");
const keys = generateKeyPair();

// The account, its token and the rule the protected service enforces, in the store it reads.
const store = new FileStore({ dir: storeDir });
const auth = new JwtAuth({ store, ...keys });
await auth.rules.grant({
  id: "bench",
  scope: "bench",
  access: "granted",
  priority: 0,
  resource: { type: "service", name: "bench-echo", endpoint: "Bench.Echo" },
});
await auth.rules.grant({ id: "other", scope: "admin", access: "granted", priority: 0, resource: { type: "service", name: "*", endpoint: "*" } });
const { secret } = await auth.generate("bench", { scopes: ["bench"] });
const { accessToken } = await auth.token({ id: "bench", secret: secret!, expiry: 3_600_000 });
// The account the test client certificate (CN caller) stands for under mTLS.
await auth.generate("caller", { type: "service", scopes: ["bench"] });
await auth.close();
await store.close();

// Each server in a registry of its own: both are named bench-echo.
const plainEnv = { MICRO_REGISTRY_ADDRESS: temp("plain") };
const jwtEnv = {
  MICRO_REGISTRY_ADDRESS: temp("jwt"),
  MICRO_STORE_ADDRESS: storeDir,
  MICRO_AUTH: "jwt",
  MICRO_AUTH_PUBLIC_KEY: keys.publicKey,
  MICRO_AUTH_TOKEN: accessToken,
};
const certs = makeTestCerts();
const tlsEnv = { MICRO_REGISTRY_ADDRESS: temp("tls"), MICRO_TRANSPORT_SECURE: "true", MICRO_TLS_CA: certs.caFile };
const tlsServerEnv = { ...tlsEnv, MICRO_TLS_CERT: certs.server.certFile, MICRO_TLS_KEY: certs.server.keyFile };
const mtlsEnv = { ...tlsEnv, MICRO_REGISTRY_ADDRESS: temp("mtls"), MICRO_TLS_CERT: certs.client.certFile, MICRO_TLS_KEY: certs.client.keyFile };
const mtlsServerEnv = { ...tlsServerEnv, MICRO_REGISTRY_ADDRESS: mtlsEnv.MICRO_REGISTRY_ADDRESS, MICRO_TLS_CLIENT_AUTH: "require" };
const certAccountEnv = { ...mtlsEnv, MICRO_REGISTRY_ADDRESS: temp("mtls-jwt") };
const certAccountServerEnv = {
  ...mtlsServerEnv,
  MICRO_REGISTRY_ADDRESS: certAccountEnv.MICRO_REGISTRY_ADDRESS,
  MICRO_STORE_ADDRESS: storeDir,
  MICRO_AUTH: "jwt",
  MICRO_AUTH_PUBLIC_KEY: keys.publicKey,
};
const plainServer = await startServer("servers/micro-echo.js", plainEnv, 0);
const cases = [
  { name: "ts-micro", env: plainEnv, server: plainServer },
  { name: "ts-micro+token-only", env: { ...plainEnv, MICRO_AUTH_TOKEN: accessToken }, server: plainServer },
  { name: "ts-micro+jwt", env: jwtEnv, server: await startServer("servers/micro-echo.js", jwtEnv, 0) },
  { name: "ts-micro+tls", env: tlsEnv, server: await startServer("servers/micro-echo.js", tlsServerEnv, 0) },
  { name: "ts-micro+mtls", env: mtlsEnv, server: await startServer("servers/micro-echo.js", mtlsServerEnv, 0) },
  { name: "ts-micro+mtls+jwt(cert)", env: certAccountEnv, server: await startServer("servers/micro-echo.js", certAccountServerEnv, 0) },
];
const results: LoadResult[] = [];
try {
  // The cases take turns, so a change in the machine's load falls on both alike.
  const runs: LoadResult[][] = cases.map(() => []);
  for (let r = 0; r < repetitions; r++) {
    for (const [i, { name, env, server }] of cases.entries()) {
      process.stderr.write(`… ${name} c=${concurrency} run ${r + 1}/${repetitions}\n`);
      runs[i].push(await runLoad(name, server.address, concurrency, warmup, seconds, env, 1));
    }
  }
  for (const caseRuns of runs) {
    const result = median(caseRuns, (x) => x.rps);
    results.push(result);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
} finally {
  for (const { server } of cases) server.stop();
}

const plain = results[0];
const lines = ["", "| concurrency | case | req/s | p50 µs | p99 µs | × plain |", "|---:|---|---:|---:|---:|---:|"];
for (const result of results) {
  lines.push(`| ${result.concurrency} | ${result.framework} | ${result.rps} | ${result.p50_us} | ${result.p99_us} | ${(result.rps / plain.rps).toFixed(2)} |`);
}
process.stdout.write(`${lines.join("\n")}\n`);
for (const dir of [
  storeDir,
  plainEnv.MICRO_REGISTRY_ADDRESS,
  jwtEnv.MICRO_REGISTRY_ADDRESS,
  tlsEnv.MICRO_REGISTRY_ADDRESS,
  mtlsEnv.MICRO_REGISTRY_ADDRESS,
  certAccountEnv.MICRO_REGISTRY_ADDRESS,
]) {
  fs.rmSync(dir, { recursive: true, force: true });
}
certs.remove();
