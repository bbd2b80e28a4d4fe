/**
 * JWT auth, compatible with Go Micro's `auth/jwt`: RS256 tokens whose claims are
 * `{type, scopes, metadata, exp, iss, sub}`, keys given as base64 of a PEM
 * (`MICRO_AUTH_PUBLIC_KEY`, `MICRO_AUTH_PRIVATE_KEY`). A token minted by Go Micro with the same
 * key pair is accepted here, and the other way round.
 *
 * A node with only the public key checks tokens; issuing them needs the private key. Accounts
 * and rules live in the store (see accounts.ts, store-rules.ts), so every node sharing it knows
 * them. Differences from Go Micro, on purpose:
 * - an account's secret is a random string kept as a hash, not a 15-minute JWT, so credentials
 *   do not go stale;
 * - a refresh token is marked (`token_use: "refresh"`) and is refused as an access token, and
 *   refreshing re-reads the account, so a deleted account gets no new tokens and scope changes
 *   apply at the next refresh;
 * - only RS256 is accepted (never `none`), `exp` is required, and a token over 8 KiB is refused
 *   before it is parsed.
 * Each inspect verifies the signature (about half a millisecond); a service's checks keep
 * checked tokens until they expire (server/authorize.ts), so a caller's token is verified once.
 */
import type * as Jose from "jose";
import { type KeyObject, nodeCrypto } from "../driver/crypto.js";
import { loadDriver } from "../driver/driver.js";
import { MicroError } from "../errors/errors.js";
import type { Account } from "../metadata/account.js";
import type { Store } from "../store/store.js";
import { AccountStore } from "./accounts.js";
import {
  AUTH_ERROR_ID,
  type Auth,
  badAuthInput,
  type CheckedToken,
  type GenerateOptions,
  InvalidTokenError,
  type Rules,
  type Token,
  type TokenOptions,
} from "./auth.js";
import { rsaKey, rsaSigner, rsaVerifier, type SignatureVerifier, type Signer } from "./signing.js";
import { StoreRules } from "./store-rules.js";

/** Go Micro's default access token lifetime. */
export const DEFAULT_TOKEN_EXPIRY = 60_000;
/** A refresh token outlives its access token by this much (Go Micro: an hour). */
const REFRESH_EXTRA = 3_600_000;
/** Longest token accepted; anything longer is refused unparsed. */
export const MAX_TOKEN_LENGTH = 8 * 1024;
const ALGORITHM = "RS256";
const REFRESH_USE = "refresh";

export interface JwtAuthOptions {
  /** Base64 of a PEM public key (PKIX, PKCS#1 or an X.509 certificate); default: derived from the private key. */
  publicKey?: string;
  /** Base64 of a PEM RSA private key (PKCS#1 or PKCS#8); needed to issue tokens. */
  privateKey?: string;
  /** The issuer put in tokens (Go Micro's namespace; default `go.micro`). */
  issuer?: string;
  /** Where accounts and rules are kept. */
  store: Store;
  /** Default `auth`. */
  table?: string;
  database?: string;
  /** The rules (default: kept in `store`). */
  rules?: Rules;
  /** Default lifetime of access tokens in ms (default 1 minute). */
  tokenExpiry?: number;
  /** Close the store on close() (default false). */
  ownsStore?: boolean;
}

type JoseModule = typeof Jose;

export class JwtAuth implements Auth {
  readonly name = "jwt";
  readonly rules: Rules;
  readonly issuer: string;
  /** Signs registry records with the private key; undefined on a node that only has the public key. */
  readonly signer: Signer | undefined;
  readonly verifier: SignatureVerifier;
  private readonly publicKey: KeyObject;
  private readonly privateKey: KeyObject | undefined;
  private readonly accounts: AccountStore;
  private readonly tokenExpiry: number;
  private jose: Promise<JoseModule> | undefined;

  constructor(private readonly options: JwtAuthOptions) {
    this.privateKey = options.privateKey ? rsaKey(options.privateKey, "private") : undefined;
    const publicKey = options.publicKey ? rsaKey(options.publicKey, "public") : this.privateKey && nodeCrypto().createPublicKey(this.privateKey);
    if (!publicKey) {
      throw badAuthInput("jwt auth needs a key: MICRO_AUTH_PUBLIC_KEY to check tokens, MICRO_AUTH_PRIVATE_KEY to issue them (`micro auth keys` makes a pair)");
    }
    this.publicKey = publicKey;
    this.signer = this.privateKey && rsaSigner(this.privateKey);
    this.verifier = rsaVerifier(publicKey);
    this.issuer = options.issuer ?? "go.micro";
    this.accounts = new AccountStore({ store: options.store, table: options.table, database: options.database });
    this.rules = options.rules ?? new StoreRules({ store: options.store, table: options.table, database: options.database });
    this.tokenExpiry = options.tokenExpiry ?? DEFAULT_TOKEN_EXPIRY;
  }

  generate(id: string, options: GenerateOptions = {}): Promise<Account> {
    return this.accounts.generate(id, this.issuer, options);
  }

  async token(options: TokenOptions): Promise<Token> {
    const expiry = options.expiry ?? this.tokenExpiry;
    if (!Number.isFinite(expiry) || expiry < 1_000) throw badAuthInput("token expiry must be at least 1 000 ms (JWT expiry has one-second resolution)");
    const account = await this.accountFor(options);
    const created = new Date();
    // Rounded up to JWT's whole seconds: rounded down, a token could expire up to a second early,
    // a one-second token at once (jose treats a token as expired from the second its exp names).
    const expires = Math.ceil((Date.now() + expiry) / 1000) * 1000;
    return {
      accessToken: await this.sign(account, expires),
      refreshToken: await this.sign(account, expires + REFRESH_EXTRA, REFRESH_USE),
      created,
      expiry: new Date(expires),
    };
  }

  async inspect(token: string): Promise<Account> {
    return (await this.verify(token, false)).account;
  }

  check(token: string): Promise<CheckedToken> {
    return this.verify(token, false);
  }

  account(id: string): Promise<Account | undefined> {
    return this.accounts.get(id);
  }

  /** The accounts kept in the store (without secrets). */
  listAccounts(): Promise<Account[]> {
    return this.accounts.list();
  }

  deleteAccount(id: string): Promise<void> {
    return this.accounts.delete(id);
  }

  async close(): Promise<void> {
    await this.rules.close();
    if (this.options.ownsStore) await this.options.store.close();
  }

  private async accountFor(options: TokenOptions): Promise<Account> {
    if (options.secret !== undefined || options.id !== undefined) {
      if (!options.id || !options.secret) throw badAuthInput("token: give both id and secret, or a refresh token");
      const account = await this.accounts.verify(options.id, options.secret);
      if (!account) throw new MicroError(AUTH_ERROR_ID, 401, "invalid credentials");
      return account;
    }
    if (options.refreshToken) {
      const { account: claimed } = await this.verify(options.refreshToken, true);
      const account = await this.accounts.get(claimed.id);
      if (!account) throw new InvalidTokenError(`account ${claimed.id} no longer exists`);
      return account;
    }
    throw badAuthInput("token: give id and secret, or a refresh token");
  }

  private async sign(account: Account, expiresAt: number, use?: string): Promise<string> {
    if (!this.privateKey) throw MicroError.internal(AUTH_ERROR_ID, "this node has no MICRO_AUTH_PRIVATE_KEY: it can check tokens but not issue them");
    const jose = await this.loadJose();
    const claims: Jose.JWTPayload = { type: account.type, scopes: account.scopes, metadata: account.metadata };
    if (use) claims.token_use = use;
    const jwt = new jose.SignJWT(claims)
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(account.id)
      .setExpirationTime(Math.floor(expiresAt / 1000));
    if (account.issuer) jwt.setIssuer(account.issuer);
    return jwt.sign(this.privateKey);
  }

  /** Checks signature, algorithm and expiry; `refresh` says which kind of token is expected. */
  private async verify(token: string, refresh: boolean): Promise<CheckedToken> {
    if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError();
    const jose = await this.loadJose();
    let payload: Jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(token, this.publicKey, { algorithms: [ALGORITHM], requiredClaims: ["exp", "sub"] }));
    } catch (err) {
      throw new InvalidTokenError((err as { code?: string }).code === "ERR_JWT_EXPIRED" ? "token expired" : "invalid token provided");
    }
    if ((payload.token_use === REFRESH_USE) !== refresh) {
      throw new InvalidTokenError(refresh ? "not a refresh token" : "a refresh token cannot be used for access");
    }
    return { account: accountFromClaims(payload), expiresAt: (payload.exp as number) * 1000 };
  }

  private loadJose(): Promise<JoseModule> {
    this.jose ??= loadDriver<JoseModule>("jose", "jwt auth");
    return this.jose;
  }
}

/** Go Micro's claims back to an account; claims of the wrong type read as empty. */
function accountFromClaims(payload: Jose.JWTPayload): Account {
  const scopes = Array.isArray(payload.scopes) ? payload.scopes.filter((s): s is string => typeof s === "string") : [];
  const metadata: Record<string, string> = {};
  if (typeof payload.metadata === "object" && payload.metadata !== null && !Array.isArray(payload.metadata)) {
    for (const [key, value] of Object.entries(payload.metadata)) if (typeof value === "string") metadata[key] = value;
  }
  return {
    id: payload.sub ?? "",
    type: typeof payload.type === "string" ? payload.type : "",
    issuer: payload.iss ?? "",
    scopes,
    metadata,
  };
}

/** A new RSA key pair as Go Micro takes it: base64 of PEM (public PKIX, private PKCS#1). */
export function generateKeyPair(bits = 2048): { publicKey: string; privateKey: string } {
  const pair = nodeCrypto().generateKeyPairSync("rsa", { modulusLength: bits });
  return {
    publicKey: Buffer.from(pair.publicKey.export({ type: "spki", format: "pem" }) as string).toString("base64"),
    privateKey: Buffer.from(pair.privateKey.export({ type: "pkcs1", format: "pem" }) as string).toString("base64"),
  };
}
