/**
 * Enforcement: the handler and subscriber wrappers a service installs when its auth is not noop.
 * Every call is checked before its handler runs (Go Micro's `wrapper/auth` AuthHandler, with its
 * gaps closed):
 * - no token: allowed only where a public rule (scope `""`) grants it, else 401;
 * - a token that is malformed, oversized, forged or expired: 401;
 * - a valid token the rules do not let in, including where no rule covers the endpoint: 403.
 * Errors carry the service's name as id, as Go Micro's do. The checked account is `ctx.account`.
 * A message delivery is checked the same way against `topic:<topic>:<service>`; a refused message
 * is logged and dropped (acknowledged), since no retry can make it pass.
 *
 * A call over mTLS whose client certificate verified and that carries no token is checked as the
 * account the certificate names (auth/mtls.ts): its scopes come from the accounts store, never
 * from the certificate. Such accounts are remembered for CERTIFICATE_TTL_MS, by fingerprint.
 *
 * A checked token is remembered until it expires (a bounded cache keyed by the Authorization
 * value as received: hashing a slice of it would cost more than the rest of the check), and
 * rules are answered from memory, so a call with a known token is checked synchronously.
 */
import { AUTHORIZATION, type Auth, BEARER_SCHEME, bearerToken, type Resource } from "../auth/auth.js";
import { certificateAccount } from "../auth/mtls.js";
import { TokenCache } from "../auth/token-cache.js";
import { MicroError } from "../errors/errors.js";
import type { Logger } from "../logger/logger.js";
import type { Account } from "../metadata/account.js";
import type { PeerCertificate } from "../metadata/context.js";
import { headerValue } from "../metadata/headers.js";
import type { HandlerWrapper } from "./server.js";
import type { SubscriberWrapper } from "./subscriber.js";

/** Longest Authorization value looked at; a longer one is refused unread. */
const MAX_AUTHORIZATION_LENGTH = 8 * 1024 + BEARER_SCHEME.length;
/** How long the account of a certificate is kept before the accounts store is read again. */
const CERTIFICATE_TTL_MS = 30_000;

export interface AuthorizeOptions {
  auth: Auth;
  /** The service's name: the resource name of its endpoints and the id of the errors. */
  service: string;
  /** Endpoints served with no check at all (Go Micro's SkipEndpoints); a public rule is the audited way. */
  skip?: readonly string[];
  /** Checked tokens remembered (default 10 000). */
  cacheSize?: number;
}

/** What `quick` answers when it cannot answer without waiting (then `check` has the answer). */
export const UNDECIDED: unique symbol = Symbol("undecided");

/** Checks callers of one service against its auth, remembering checked tokens. */
export class Authorizer {
  private readonly cache: TokenCache;
  /** Accounts of client certificates, by fingerprint: apart from tokens, so no token can look like one. */
  private readonly certificates: TokenCache;

  constructor(
    private readonly auth: Auth,
    private readonly service: string,
    cacheSize?: number,
  ) {
    this.cache = new TokenCache(cacheSize);
    this.certificates = new TokenCache(cacheSize);
  }

  /**
   * The caller's account (undefined: a caller without a token) when it is known to be let in
   * without waiting (a remembered token, rules in memory that grant it); UNDECIDED otherwise,
   * and then `check` has the answer. No object per call: this runs for every call.
   */
  quick(resource: Resource, authorization: string | undefined): Account | undefined | typeof UNDECIDED {
    if (authorization === undefined) return this.auth.rules.verifyNow?.(undefined, resource) === true ? undefined : UNDECIDED;
    const account = this.cache.get(authorization);
    if (account === undefined) return UNDECIDED;
    return this.auth.rules.verifyNow?.(account, resource) === true ? account : UNDECIDED;
  }

  /**
   * The caller's account if `authorization` (the call's Authorization value) lets it reach
   * `resource`; undefined for a caller without a token that a public rule lets in. Throws 401/403.
   */
  async check(resource: Resource, authorization: string | undefined): Promise<Account | undefined> {
    const service = this.service;
    if (authorization === undefined || authorization === "") {
      if (await this.auth.rules.verify(undefined, resource)) return undefined;
      throw MicroError.unauthorized(service, "missing authorization token");
    }
    const account = this.cache.get(authorization) ?? (await this.authenticate(authorization));
    if (!(await this.auth.rules.verify(account, resource))) throw MicroError.forbidden(service, `access denied to ${resource.endpoint}`);
    return account;
  }

  /** As quick, for a caller without a token that presented a verified client certificate. */
  quickCertificate(resource: Resource, certificate: PeerCertificate): Account | typeof UNDECIDED {
    const account = this.certificates.get(certificate.fingerprint256);
    if (account === undefined) return UNDECIDED;
    return this.auth.rules.verifyNow?.(account, resource) === true ? account : UNDECIDED;
  }

  /** As check, for a caller without a token that presented a verified client certificate. */
  async checkCertificate(resource: Resource, certificate: PeerCertificate): Promise<Account | undefined> {
    const key = certificate.fingerprint256;
    let account = this.certificates.get(key);
    if (account === undefined) {
      account = await certificateAccount(this.auth, certificate);
      if (account === undefined) return this.check(resource, undefined); // no CN: a caller without identity
      this.certificates.set(key, account, Date.now() + CERTIFICATE_TTL_MS);
    }
    if (!(await this.auth.rules.verify(account, resource)))
      throw MicroError.forbidden(this.service, `access denied to ${resource.endpoint} for certificate ${account.id}`);
    return account;
  }

  private async authenticate(authorization: string): Promise<Account> {
    const service = this.service;
    if (authorization.length > MAX_AUTHORIZATION_LENGTH) throw MicroError.unauthorized(service, "invalid authorization token: too long");
    const token = bearerToken(authorization);
    if (!token) throw MicroError.unauthorized(service, "invalid authorization token: expected 'Bearer <token>'");
    try {
      const { account, expiresAt } = await this.auth.check(token);
      this.cache.set(authorization, account, expiresAt);
      return account;
    } catch (err) {
      if (err instanceof MicroError && err.code === 401) throw MicroError.unauthorized(service, `invalid token: ${err.detail}`);
      throw err;
    }
  }
}

/** The Authorization value, read from the raw headers: building the call's Metadata costs more than the check. */
function authorizationOf(header: Record<string, string>): string | undefined {
  return headerValue(header, AUTHORIZATION);
}

/** Checks every call (unary and streams) before its handler runs. */
export function authorizeCalls(options: AuthorizeOptions): HandlerWrapper {
  const skip = new Set(options.skip ?? []);
  const authorizer = new Authorizer(options.auth, options.service, options.cacheSize);
  // One Resource per endpoint, made once: the server refuses unknown endpoints before this runs.
  const resources = new Map<string, Resource>();
  const resourceOf = (endpoint: string): Resource => {
    let resource = resources.get(endpoint);
    if (resource === undefined) {
      resource = Object.freeze({ type: "service", name: options.service, endpoint });
      resources.set(endpoint, resource);
    }
    return resource;
  };
  return (next) => (request, ctx) => {
    if (skip.has(request.endpoint)) return next(request, ctx);
    const resource = resourceOf(request.endpoint);
    const authorization = authorizationOf(request.header);
    const certificate = authorization ? undefined : ctx.caller.certificate;
    if (certificate) {
      const known = authorizer.quickCertificate(resource, certificate);
      if (known !== UNDECIDED) {
        ctx.account = known;
        return next(request, ctx);
      }
      return authorizer.checkCertificate(resource, certificate).then((account) => {
        ctx.account = account;
        return next(request, ctx);
      });
    }
    const known = authorizer.quick(resource, authorization);
    if (known !== UNDECIDED) {
      ctx.account = known;
      return next(request, ctx);
    }
    return authorizer.check(resource, authorization).then((account) => {
      ctx.account = account;
      return next(request, ctx);
    });
  };
}

/** Checks every message delivery; a refused message is logged and dropped. */
export function authorizeMessages(options: AuthorizeOptions & { logger: Logger }): SubscriberWrapper {
  const authorizer = new Authorizer(options.auth, options.service, options.cacheSize);
  return (next) => async (message, ctx) => {
    const resource: Resource = { type: "topic", name: message.topic, endpoint: options.service };
    let account: Account | undefined;
    try {
      account = await authorizer.check(resource, authorizationOf(message.header));
    } catch (err) {
      if (!(err instanceof MicroError) || (err.code !== 401 && err.code !== 403)) throw err;
      options.logger.warn("dropped a message its sender may not deliver", { topic: message.topic, id: ctx.id, code: err.code, reason: err.detail });
      return;
    }
    ctx.account = account;
    return next(message, ctx);
  };
}
