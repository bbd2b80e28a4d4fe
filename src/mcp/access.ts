/**
 * Who may see and call which tool. With an auth other than noop, a caller is the account of its
 * token (a bearer token per HTTP request; on stdio the token or credentials the gateway was
 * started with), and a tool is visible and callable when
 * 1. the caller holds one of the tool's scopes (endpoint metadata `scopes`, or the `tools`
 *    option), if it has any — case-insensitively, as Go Micro's gateway compares them; and
 * 2. the auth's rules grant the caller the endpoint's resource `service:<service>:<endpoint>`,
 *    exactly as the service itself will check the call.
 * Without auth (noop), every tool is visible to everyone.
 */
import { type Account, type Auth, bearerToken } from "../auth/auth.js";
import { TokenCache } from "../auth/token-cache.js";
import { MicroError } from "../errors/errors.js";
import type { Tool } from "./mcp.js";

/** Longest token looked at (as services do); a longer one is refused unread. */
const MAX_TOKEN_LENGTH = 8 * 1024;
const ID = "mcp";

/** A caller: its account (undefined: no token) and the token to pass on to services. */
export interface Caller {
  account: Account | undefined;
  token: string | undefined;
}

export const ANONYMOUS: Caller = Object.freeze({ account: undefined, token: undefined });

export class AccessPolicy {
  private readonly cache = new TokenCache();

  constructor(private readonly auth: Auth | undefined) {}

  /** Whether callers are checked at all. */
  get enabled(): boolean {
    return this.auth !== undefined && this.auth.name !== "noop";
  }

  /** The caller a token stands for; 401 when the token is not valid. Without auth the token is only passed on. */
  async identify(token: string | undefined): Promise<Caller> {
    if (!token) return ANONYMOUS;
    if (!this.enabled || !this.auth) return { account: undefined, token };
    if (token.length > MAX_TOKEN_LENGTH) throw MicroError.unauthorized(ID, "invalid token: too long");
    const known = this.cache.get(token);
    if (known) return { account: known, token };
    try {
      const { account, expiresAt } = await this.auth.check(token);
      this.cache.set(token, account, expiresAt);
      return { account, token };
    } catch (err) {
      if (err instanceof MicroError && err.code === 401) throw MicroError.unauthorized(ID, `invalid token: ${err.detail}`);
      throw err;
    }
  }

  /** The caller of an `Authorization` header value (`Bearer <token>`); 401 when it is not in that form. */
  identifyHeader(authorization: string | undefined): Promise<Caller> {
    if (authorization === undefined || authorization === "") return this.identify(undefined);
    const token = bearerToken(authorization);
    if (!token) return Promise.reject(MicroError.unauthorized(ID, "invalid authorization header: expected 'Bearer <token>'"));
    return this.identify(token);
  }

  /** Why `caller` may not use `tool`, or undefined when it may. */
  async denial(tool: Tool, caller: Caller): Promise<string | undefined> {
    if (!this.enabled || !this.auth) return undefined;
    const account = caller.account;
    if (tool.scopes.length > 0) {
      const held = new Set((account?.scopes ?? []).map((s) => s.toLowerCase()));
      if (!tool.scopes.some((s) => held.has(s.toLowerCase()))) return `${tool.name} needs one of the scopes ${tool.scopes.join(", ")}`;
    }
    const granted = await this.auth.rules.verify(account, { type: "service", name: tool.service, endpoint: tool.endpoint });
    return granted ? undefined : `no rule grants ${account ? account.id : "a caller without a token"} service:${tool.service}:${tool.endpoint}`;
  }

  /** The tools `caller` may see. */
  async visible(tools: readonly Tool[], caller: Caller): Promise<Tool[]> {
    if (!this.enabled) return [...tools];
    const denials = await Promise.all(tools.map((tool) => this.denial(tool, caller)));
    return tools.filter((_, i) => denials[i] === undefined);
  }
}
