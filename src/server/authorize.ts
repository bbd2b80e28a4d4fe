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
 */
import { AUTHORIZATION, type Auth, bearerToken, type Resource } from "../auth/auth.js";
import { MicroError } from "../errors/errors.js";
import type { Logger } from "../logger/logger.js";
import type { Account } from "../metadata/account.js";
import type { Context } from "../metadata/context.js";
import type { HandlerWrapper } from "./server.js";
import type { SubscriberWrapper } from "./subscriber.js";

/** Longest Authorization value looked at; a longer one is refused unread. */
const MAX_AUTHORIZATION_LENGTH = 8 * 1024 + 64;

export interface AuthorizeOptions {
  auth: Auth;
  /** The service's name: the resource name of its endpoints and the id of the errors. */
  service: string;
  /** Endpoints served with no check at all (Go Micro's SkipEndpoints); a public rule is the audited way. */
  skip?: readonly string[];
}

/**
 * The caller's account if `authorization` (the call's Authorization value) lets it reach
 * `resource`; undefined for a caller without a token that a public rule lets in. Throws 401/403.
 */
export async function authorize(auth: Auth, service: string, resource: Resource, authorization: string | undefined): Promise<Account | undefined> {
  if (authorization === undefined || authorization === "") {
    if (await auth.rules.verify(undefined, resource)) return undefined;
    throw MicroError.unauthorized(service, "missing authorization token");
  }
  if (authorization.length > MAX_AUTHORIZATION_LENGTH) throw MicroError.unauthorized(service, "invalid authorization token: too long");
  const token = bearerToken(authorization);
  if (!token) throw MicroError.unauthorized(service, "invalid authorization token: expected 'Bearer <token>'");
  let account: Account;
  try {
    account = await auth.inspect(token);
  } catch (err) {
    if (err instanceof MicroError && err.code === 401) throw MicroError.unauthorized(service, `invalid token: ${err.detail}`);
    throw err;
  }
  if (!(await auth.rules.verify(account, resource))) throw MicroError.forbidden(service, `access denied to ${resource.endpoint}`);
  return account;
}

function authorizationOf(ctx: Context): string | undefined {
  return ctx.metadata.get(AUTHORIZATION);
}

/** Checks every call (unary and streams) before its handler runs. */
export function authorizeCalls(options: AuthorizeOptions): HandlerWrapper {
  const skip = new Set(options.skip ?? []);
  return (next) => (request, ctx) => {
    if (skip.has(request.endpoint)) return next(request, ctx);
    const resource: Resource = { type: "service", name: options.service, endpoint: request.endpoint };
    return authorize(options.auth, options.service, resource, authorizationOf(ctx)).then((account) => {
      ctx.account = account;
      return next(request, ctx);
    });
  };
}

/** Checks every message delivery; a refused message is logged and dropped. */
export function authorizeMessages(options: AuthorizeOptions & { logger: Logger }): SubscriberWrapper {
  return (next) => async (message, ctx) => {
    const resource: Resource = { type: "topic", name: message.topic, endpoint: options.service };
    let account: Account | undefined;
    try {
      account = await authorize(options.auth, options.service, resource, authorizationOf(ctx));
    } catch (err) {
      if (!(err instanceof MicroError) || (err.code !== 401 && err.code !== 403)) throw err;
      options.logger.warn("dropped a message its sender may not deliver", { topic: message.topic, id: ctx.id, code: err.code, reason: err.detail });
      return;
    }
    ctx.account = account;
    return next(message, ctx);
  };
}
