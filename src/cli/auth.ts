/**
 * `micro auth …`: keys, accounts, tokens and rules. Accounts and rules live in the store that
 * services use (MICRO_STORE, MICRO_STORE_ADDRESS; by default the host's file store), so what is
 * created here is what every service sharing that store enforces. Output shapes are fixed so
 * scripts can rely on them:
 *
 *   micro auth keys                             MICRO_AUTH_PUBLIC_KEY=… and MICRO_AUTH_PRIVATE_KEY=… lines (eval-able)
 *   micro auth account create ID --scopes a,b [--type user|service] [--secret S]   the account with its secret, as JSON
 *   micro auth account list | delete ID
 *   micro auth token --id ID --secret S [--expiry 1h]   an access token on one line (needs MICRO_AUTH_PRIVATE_KEY)
 *   micro auth rules grant RULE_ID --resource TYPE:NAME:ENDPOINT --scope SCOPE [--deny] [--priority N]
 *   micro auth rules revoke RULE_ID
 *   micro auth rules list [--json]
 *   micro auth certs [NAME…] [--client] [--host h,…] [--dir ./certs]   MICRO_TRANSPORT_SECURE / MICRO_TLS_* lines per name (eval-able)
 */
import path from "node:path";
import { AccountStore } from "../auth/accounts.js";
import { checkCertName, createLeaf, ensureCa, nodeAltNames } from "../auth/certs.js";
import { generateKeyPair } from "../auth/jwt.js";
import { formatResource, parseResource } from "../auth/rules.js";
import { StoreRules } from "../auth/store-rules.js";
import { parseDuration } from "../config/duration.js";
import { resolveAuth, resolveStore } from "../service/resolve.js";
import type { Store } from "../store/store.js";
import { UsageError } from "./usage.js";

export interface AuthFlags {
  scopes?: string;
  type?: string;
  id?: string;
  secret?: string;
  expiry?: string;
  resource?: string;
  scope?: string;
  deny?: boolean;
  priority?: string;
  json?: boolean;
  dir?: string;
  host?: string;
  client?: boolean;
}

export const AUTH_USAGE = `  auth keys                             print a new key pair as MICRO_AUTH_PUBLIC_KEY=… / MICRO_AUTH_PRIVATE_KEY=… lines
  auth account create <id> --scopes a,b [--type user|service] [--secret s]
                                        create an account; prints it with its secret as JSON
  auth account list | delete <id>       list accounts (JSON lines) or delete one
  auth token --id <id> --secret <s> [--expiry 1h]
                                        print an access token (needs MICRO_AUTH_PRIVATE_KEY)
  auth rules grant <rule-id> --resource type:name:endpoint --scope <scope> [--deny] [--priority n]
                                        scope "" is public, "*" any account
  auth rules revoke <rule-id>
  auth rules list [--json]
  auth certs [name…] [--client] [--host h,…] [--dir ./certs]
                                        make a CA in --dir (once) and a certificate per name (CN and
                                        DNS name = the service, plus localhost, 127.0.0.1, ::1 and
                                        --host); --client: client-only certificates; prints the
                                        MICRO_TRANSPORT_SECURE / MICRO_TLS_* lines for each name
`;

export async function authCommand(args: string[], flags: AuthFlags): Promise<number> {
  const [group, action, subject] = args;
  switch (group) {
    case "keys": {
      const { publicKey, privateKey } = generateKeyPair();
      process.stdout.write(`MICRO_AUTH_PUBLIC_KEY=${publicKey}\nMICRO_AUTH_PRIVATE_KEY=${privateKey}\n`);
      return 0;
    }
    case "account":
      return withStore((store) => accountCommand(store, action, subject, flags));
    case "token":
      return token(flags);
    case "rules":
      return withStore((store) => rulesCommand(store, action, subject, flags));
    case "certs":
      return certs(args.slice(1), flags);
    default:
      throw new UsageError(`auth needs keys, account, token, rules or certs, not ${JSON.stringify(group ?? "")}`);
  }
}

async function withStore(run: (store: Store) => Promise<number>): Promise<number> {
  const store = resolveStore();
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

async function accountCommand(store: Store, action: string | undefined, id: string | undefined, flags: AuthFlags): Promise<number> {
  const accounts = new AccountStore({ store });
  switch (action) {
    case "create": {
      if (!id) throw new UsageError("account create needs an id, e.g. micro auth account create alice --scopes greeter");
      const scopes = (flags.scopes ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      const account = await accounts.generate(id, process.env.MICRO_AUTH_NAMESPACE || "go.micro", { scopes, type: flags.type, secret: flags.secret });
      process.stdout.write(`${JSON.stringify(account)}\n`);
      return 0;
    }
    case "list":
      for (const account of await accounts.list()) process.stdout.write(`${JSON.stringify(account)}\n`);
      return 0;
    case "delete":
      if (!id) throw new UsageError("account delete needs an id");
      await accounts.delete(id);
      return 0;
    default:
      throw new UsageError(`auth account needs create, list or delete, not ${JSON.stringify(action ?? "")}`);
  }
}

async function token(flags: AuthFlags): Promise<number> {
  if (!flags.id || !flags.secret) throw new UsageError("auth token needs --id and --secret");
  const expiry = flags.expiry === undefined ? undefined : parseDuration(flags.expiry);
  if (flags.expiry !== undefined && expiry === undefined) throw new UsageError(`--expiry ${flags.expiry} is not a duration (e.g. 30s, 1h)`);
  const auth = resolveAuth("jwt");
  try {
    const { accessToken } = await auth.token({ id: flags.id, secret: flags.secret, expiry });
    process.stdout.write(`${accessToken}\n`);
    return 0;
  } finally {
    await auth.close();
  }
}

async function rulesCommand(store: Store, action: string | undefined, id: string | undefined, flags: AuthFlags): Promise<number> {
  const rules = new StoreRules({ store });
  switch (action) {
    case "grant": {
      if (!id) throw new UsageError("rules grant needs a rule id");
      if (!flags.resource) throw new UsageError("rules grant needs --resource type:name:endpoint, e.g. service:greeter:Greeter.Hello");
      if (flags.scope === undefined) throw new UsageError('rules grant needs --scope: "" for public, "*" for any account, or a scope');
      const priority = flags.priority === undefined ? 0 : Number(flags.priority);
      await rules.grant({ id, resource: parseResource(flags.resource), scope: flags.scope, access: flags.deny ? "denied" : "granted", priority });
      return 0;
    }
    case "revoke":
      if (!id) throw new UsageError("rules revoke needs a rule id");
      await rules.revoke(id);
      return 0;
    case "list": {
      const listed = await rules.list();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(listed, null, 2)}\n`);
        return 0;
      }
      process.stdout.write("ID\tSCOPE\tACCESS\tPRIORITY\tRESOURCE\n");
      for (const r of listed) process.stdout.write(`${r.id}\t${JSON.stringify(r.scope)}\t${r.access}\t${r.priority}\t${formatResource(r.resource)}\n`);
      return 0;
    }
    default:
      throw new UsageError(`auth rules needs grant, revoke or list, not ${JSON.stringify(action ?? "")}`);
  }
}

/**
 * `auth certs`: the CA in `--dir` (made on first use) and a certificate per name, then the lines
 * that turn mTLS on for each (a shell can `eval` the output of a single name).
 */
function certs(names: string[], flags: AuthFlags): number {
  const dir = path.resolve(flags.dir ?? "certs");
  const hosts = (flags.host ?? "")
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  for (const name of names) {
    try {
      checkCertName(name);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const ca = ensureCa(dir);
  process.stdout.write(`# CA ${ca.certFile} (${ca.created ? "created" : "existing"}; keep ${path.basename(ca.keyFile)} private)\n`);
  for (const name of names) {
    const altNames = flags.client ? [`DNS:${name}`] : nodeAltNames(name, hosts);
    const pair = createLeaf(dir, name, { altNames, usage: flags.client ? "client" : "node" });
    process.stdout.write(
      [
        `# ${flags.client ? "client" : "service"} ${name}`,
        "MICRO_TRANSPORT_SECURE=true",
        `MICRO_TLS_CA=${shellWord(ca.certFile)}`,
        `MICRO_TLS_CERT=${shellWord(pair.certFile)}`,
        `MICRO_TLS_KEY=${shellWord(pair.keyFile)}`,
        ...(flags.client ? [] : ["MICRO_TLS_CLIENT_AUTH=require", "MICRO_TLS_VERIFY_SERVICE=true"]),
        "",
      ].join("\n"),
    );
  }
  return 0;
}

/** A path as one shell word: as is when it is plain, else single-quoted (for `eval`). */
function shellWord(text: string): string {
  return /^[A-Za-z0-9_./:@+-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}
