/**
 * Certificates for the TLS tests, made with src/auth/certs.ts in a temporary directory: a CA,
 * a server certificate for 127.0.0.1, a client certificate, the same from a second (untrusted)
 * CA, and an expired certificate signed by the trusted CA (dated 2020 with `openssl ca`).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type CertPair, createLeaf, ensureCa, openssl, readPair } from "../../src/auth/certs.js";

export type { CertPair };

export interface TestCerts {
  dir: string;
  ca: string;
  caFile: string;
  /** CN greeter, subjectAltName IP:127.0.0.1, signed by ca. */
  server: CertPair;
  /** CN caller, subjectAltName DNS:caller, signed by ca. */
  client: CertPair;
  /** A second CA nobody trusts, and a server and client certificate it signed. */
  otherCa: string;
  rogueServer: CertPair;
  rogueClient: CertPair;
  /** Signed by ca, valid 2020-01-01 .. 2020-01-02, subjectAltName IP:127.0.0.1. */
  expired: CertPair;
  remove(): void;
}

/** A certificate for the tests: valid two days, as the test CAs. */
function leaf(dir: string, name: string, commonName: string, altName: string, ca: string): CertPair {
  return createLeaf(dir, name, { commonName, altNames: [altName], ca, days: 2 });
}

/** A certificate whose validity ended in 2020: `openssl ca` takes explicit start and end dates. */
function expiredLeaf(dir: string, name: string, ca: string): CertPair {
  openssl(dir, [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    "/CN=expired",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
  ]);
  fs.mkdirSync(path.join(dir, "ca-db"));
  fs.writeFileSync(path.join(dir, "ca-db", "index"), "");
  fs.writeFileSync(path.join(dir, "ca-db", "serial"), "01\n");
  const config = [
    "[ca]",
    "default_ca = d",
    "[d]",
    "database = ca-db/index",
    "serial = ca-db/serial",
    "new_certs_dir = ca-db",
    "default_md = sha256",
    "policy = p",
    "copy_extensions = copy",
    "[p]",
    "commonName = supplied",
  ];
  fs.writeFileSync(path.join(dir, "ca.cnf"), `${config.join("\n")}\n`);
  openssl(dir, [
    "ca",
    "-batch",
    "-config",
    "ca.cnf",
    "-cert",
    `${ca}.crt`,
    "-keyfile",
    `${ca}.key`,
    "-in",
    `${name}.csr`,
    "-out",
    `${name}.crt`,
    "-startdate",
    "20200101000000Z",
    "-enddate",
    "20200102000000Z",
  ]);
  return readPair(dir, name);
}

export function makeTestCerts(): TestCerts {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-certs-"));
  ensureCa(dir, "ca", 2);
  ensureCa(dir, "other-ca", 2);
  return {
    dir,
    ca: fs.readFileSync(path.join(dir, "ca.crt"), "utf8"),
    caFile: path.join(dir, "ca.crt"),
    server: leaf(dir, "server", "greeter", "IP:127.0.0.1", "ca"),
    client: leaf(dir, "client", "caller", "DNS:caller", "ca"),
    otherCa: fs.readFileSync(path.join(dir, "other-ca.crt"), "utf8"),
    rogueServer: leaf(dir, "rogue-server", "greeter", "IP:127.0.0.1", "other-ca"),
    rogueClient: leaf(dir, "rogue-client", "caller", "DNS:caller", "other-ca"),
    expired: expiredLeaf(dir, "expired", "ca"),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * The MICRO_TLS_* settings that switch a process to TLS: trusting `certs.ca` and, given `pair`,
 * presenting it. A server passes its certificate and `clientAuth` to require clients' ones.
 */
export function tlsEnv(certs: TestCerts, pair?: CertPair, clientAuth?: "require"): Record<string, string> {
  return {
    MICRO_TRANSPORT_SECURE: "true",
    MICRO_TLS_CA: certs.caFile,
    ...(pair && { MICRO_TLS_CERT: pair.certFile, MICRO_TLS_KEY: pair.keyFile }),
    ...(clientAuth && { MICRO_TLS_CLIENT_AUTH: clientAuth }),
  };
}
