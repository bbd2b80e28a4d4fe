/**
 * Certificates for development and tests, made with the `openssl` command: a CA kept in a
 * directory (made once, reused after), node certificates named after a service (usable as a
 * server certificate and as a client certificate for mTLS) and client-only certificates.
 * `micro auth certs` uses this; so do the TLS tests. Keys are EC P-256, written readable by the
 * owner only.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** A certificate and its key, as PEM text, and where they are on disk. */
export interface CertPair {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

export interface LeafOptions {
  /** The subject's common name (default: the file name). */
  commonName?: string;
  /** subjectAltName entries as OpenSSL writes them: `DNS:greeter`, `IP:127.0.0.1`. */
  altNames: string[];
  /** The file name (without extension) of the signing CA in the same directory (default `ca`). */
  ca?: string;
  /** Days the certificate is valid (default 365). */
  days?: number;
  /** `node` (server and client, the default) or `client` (client authentication only). */
  usage?: "node" | "client";
}

const KEY_ARGS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
/** The characters a certificate name may have here: they end up in a file name and a `-subj`. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Runs `openssl` in `dir`; a missing command or a failure becomes an error saying what to do. */
export function openssl(dir: string, args: string[]): void {
  try {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const error = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (error.code === "ENOENT") throw new Error("the openssl command was not found: install OpenSSL (e.g. apt-get install openssl) to make certificates");
    const detail = error.stderr?.toString().trim() || error.message;
    throw new Error(`openssl ${args[0]} failed: ${detail}`);
  }
}

/** Checks a name that becomes a file name and a certificate subject. */
export function checkCertName(name: string): string {
  if (!NAME_PATTERN.test(name)) throw new Error(`certificate name ${JSON.stringify(name)}: 1 to 128 letters, digits or . _ - (not starting with . _ -)`);
  return name;
}

/**
 * The CA `<name>.crt`/`<name>.key` in `dir`, made when absent (valid `days`, default 10 years);
 * an existing CA is kept, so certificates made later are signed by the same one.
 */
export function ensureCa(dir: string, name = "ca", days = 3650): { certFile: string; keyFile: string; created: boolean } {
  checkCertName(name);
  fs.mkdirSync(dir, { recursive: true });
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) return { certFile, keyFile, created: false };
  openssl(dir, ["req", "-x509", ...KEY_ARGS, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", String(days), "-subj", `/CN=${name}`]);
  fs.chmodSync(keyFile, 0o600);
  return { certFile, keyFile, created: true };
}

/** A certificate `<name>.crt`/`<name>.key` in `dir`, signed by the CA there (replaced if it exists). */
export function createLeaf(dir: string, name: string, options: LeafOptions): CertPair {
  checkCertName(name);
  const ca = options.ca ?? "ca";
  const san = `subjectAltName=${options.altNames.join(",")}`;
  const usage = options.usage === "client" ? "clientAuth" : "serverAuth,clientAuth";
  openssl(dir, ["req", ...KEY_ARGS, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${options.commonName ?? name}`]);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, `${san}\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`);
  try {
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
      String(options.days ?? 365),
      "-extfile",
      `${name}.ext`,
    ]);
  } finally {
    fs.rmSync(ext, { force: true });
    fs.rmSync(path.join(dir, `${name}.csr`), { force: true });
  }
  fs.chmodSync(path.join(dir, `${name}.key`), 0o600);
  return readPair(dir, name);
}

/** The subjectAltNames of a node certificate for `service`: its name, localhost and the loopback addresses, plus `hosts`. */
export function nodeAltNames(service: string, hosts: readonly string[] = []): string[] {
  const names = [`DNS:${service}`, "DNS:localhost", "IP:127.0.0.1", "IP:::1"];
  for (const host of hosts) names.push(/^[0-9.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`);
  return [...new Set(names)];
}

export function readPair(dir: string, name: string): CertPair {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  return { cert: fs.readFileSync(certFile, "utf8"), key: fs.readFileSync(keyFile, "utf8"), certFile, keyFile };
}
