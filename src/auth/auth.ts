/**
 * Authentication and authorization: Go Micro's `auth.Auth` and `auth.Rules`. An Auth issues and
 * checks tokens for accounts (users and services); Rules say which accounts may reach which
 * resources. The types and the rule algorithm are Go Micro's, so tokens and rules mean the same
 * on both sides; unlike Go Micro's defaults, nothing here allows by omission: a resource no rule
 * covers is denied.
 */
import { MicroError } from "../errors/errors.js";
import type { Account } from "../metadata/account.js";
import type { SignatureVerifier, Signer } from "./signing.js";

export type { Account } from "../metadata/account.js";

/** The id of errors auth raises itself (a service's checks raise them with the service's name). */
export const AUTH_ERROR_ID = "go.micro.auth";
/** The metadata key a token travels under, and its scheme (Go Micro's `wrapper/auth`). */
export const AUTHORIZATION = "Authorization";
export const BEARER_SCHEME = "Bearer ";
/** A rule with this scope applies to every caller, with or without a token. */
export const SCOPE_PUBLIC = "";
/** A rule with this scope applies to every caller that has an account (a valid token). */
export const SCOPE_ACCOUNT = "*";

/** What a rule protects: `service:greeter:Greeter.Hello`; each part may be `*`. */
export interface Resource {
  /** `service` for RPC endpoints, `topic` for message deliveries. */
  type: string;
  name: string;
  endpoint: string;
}

export type Access = "granted" | "denied";

export interface Rule {
  id: string;
  /** `""` anyone (SCOPE_PUBLIC), `"*"` any account (SCOPE_ACCOUNT), else accounts holding this scope. */
  scope: string;
  resource: Resource;
  access: Access;
  /** Higher first; at equal priority a denial wins over a grant. */
  priority: number;
}

/** An access token and the refresh token that gets the next one. */
export interface Token {
  accessToken: string;
  refreshToken: string;
  created: Date;
  /** When the access token stops being accepted. */
  expiry: Date;
}

export interface GenerateOptions {
  /** Default `user`. */
  type?: string;
  scopes?: string[];
  metadata?: Record<string, string>;
  /** The account's secret (default: a random one, returned on the account). */
  secret?: string;
}

export interface TokenOptions {
  /** With `secret`: the account's credentials. */
  id?: string;
  secret?: string;
  /** Instead of credentials: a refresh token from an earlier `token()`. */
  refreshToken?: string;
  /** Lifetime of the access token in ms (default 1 minute, as Go Micro); the refresh token lives an hour longer. */
  expiry?: number;
}

/** A token found valid, the account it stands for, and when it stops being valid. */
export interface CheckedToken {
  account: Account;
  expiresAt: number;
}

export interface Rules {
  /** Adds the rule, or replaces the one with its id. */
  grant(rule: Rule): Promise<void>;
  /** Removes the rule with this id; an absent id is not an error. */
  revoke(id: string): Promise<void>;
  /** Every rule, by priority (highest first), then id. */
  list(): Promise<Rule[]>;
  /** Whether `account` (undefined: a caller without a token) may reach `resource`. */
  verify(account: Account | undefined, resource: Resource): Promise<boolean>;
  /**
   * The same answer without waiting, when the rules are in memory and current; undefined when
   * they must be read first (then use verify). Lets a service's check stay synchronous per call.
   */
  verifyNow?(account: Account | undefined, resource: Resource): boolean | undefined;
  close(): Promise<void>;
}

export interface Auth {
  /** `noop` or `jwt`. */
  readonly name: string;
  readonly rules: Rules;
  /** Creates an account; the result carries its secret, which is not shown again. */
  generate(id: string, options?: GenerateOptions): Promise<Account>;
  /** An access token for credentials or a refresh token; 401 when they are not valid. */
  token(options: TokenOptions): Promise<Token>;
  /** The account an access token stands for; 401 (InvalidTokenError) when it is not valid or expired. */
  inspect(token: string): Promise<Account>;
  /**
   * As inspect, with how long the answer holds: until `expiresAt` (ms since the epoch) the same
   * token gets the same account, so a caller may keep it that long instead of checking again.
   */
  check(token: string): Promise<CheckedToken>;
  /**
   * Optional: the stored account with this id (without its secret), or undefined. Used for callers
   * whose identity was proven another way (an mTLS client certificate), to find their scopes.
   */
  account?(id: string): Promise<Account | undefined>;
  /**
   * Optional: signs what this node publishes about itself (its registry record), with the key
   * that issues tokens; absent when this node cannot sign (no private key, or noop auth).
   */
  readonly signer?: Signer;
  /** Optional: checks such signatures with the public key; absent with noop auth. */
  readonly verifier?: SignatureVerifier;
  close(): Promise<void>;
}

/** A token that is malformed, forged, expired or of the wrong kind (401). */
export class InvalidTokenError extends MicroError {
  constructor(detail = "invalid token provided") {
    super(AUTH_ERROR_ID, 401, detail);
  }
}

/** Bad input to auth (400): nothing was changed. */
export function badAuthInput(detail: string): MicroError {
  return MicroError.badRequest(AUTH_ERROR_ID, detail);
}

/** `Bearer <token>` → the token; undefined when the value is not in that form. */
export function bearerToken(value: string): string | undefined {
  if (value.length <= BEARER_SCHEME.length || value.slice(0, BEARER_SCHEME.length).toLowerCase() !== BEARER_SCHEME.toLowerCase()) return undefined;
  const token = value.slice(BEARER_SCHEME.length).trim();
  return token || undefined;
}
