/**
 * Certificates for the TLS tests, made with the `openssl` command in a temporary directory: a CA,
 * a server certificate for 127.0.0.1, a client certificate, the same from a second (untrusted)
 * CA, and an expired certificate signed by the trusted CA (dated 2020 with `openssl ca`).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface CertPair {
  cert: string;
  key: string;
  /** Where cert and key are on disk, for env-driven tests. */
  certFile: string;
  keyFile: string;
}

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

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    throw new Error(`openssl ${args.join(" ")} failed (the TLS tests need the openssl command): ${err instanceof Error ? err.message : String(err)}`);
  }
}

const KEY_ARGS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function makeCa(dir: string, name: string): void {
  openssl(dir, ["req", "-x509", ...KEY_ARGS, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=${name}`]);
}

function request(dir: string, name: string, cn: string, san: string): void {
  openssl(dir, ["req", ...KEY_ARGS, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`, "-addext", `subjectAltName=${san}`]);
}

function sign(dir: string, name: string, san: string, ca: string): void {
  fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
  openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  ]);
}

function leaf(dir: string, name: string, cn: string, san: string, ca: string): CertPair {
  request(dir, name, cn, san);
  sign(dir, name, san, ca);
  return pair(dir, name);
}

/** A certificate whose validity ended in 2020: `openssl ca` takes explicit start and end dates. */
function expiredLeaf(dir: string, name: string, ca: string): CertPair {
  request(dir, name, "expired", "IP:127.0.0.1");
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
  return pair(dir, name);
}

function pair(dir: string, name: string): CertPair {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  return { cert: fs.readFileSync(certFile, "utf8"), key: fs.readFileSync(keyFile, "utf8"), certFile, keyFile };
}

export function makeTestCerts(): TestCerts {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ts-micro-certs-"));
  makeCa(dir, "ca");
  makeCa(dir, "other-ca");
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
