/**
 * The default: no auth. Every token is accepted and every rule check allows, as Go Micro's
 * `auth.NewAuth()`; a service with this auth installs no checks at all.
 */
import { randomUUID } from "../driver/crypto.js";
import type { Account } from "../metadata/account.js";
import type { Auth, CheckedToken, GenerateOptions, Rules, Token } from "./auth.js";

const allowAll: Rules = {
  grant: async () => {},
  revoke: async () => {},
  list: async () => [],
  verify: async () => true,
  verifyNow: () => true,
  close: async () => {},
};

export class NoopAuth implements Auth {
  readonly name = "noop";
  readonly rules: Rules = allowAll;

  constructor(private readonly issuer = "go.micro") {}

  async generate(id: string, options: GenerateOptions = {}): Promise<Account> {
    return {
      id,
      type: options.type ?? "user",
      issuer: this.issuer,
      scopes: options.scopes ?? [],
      metadata: options.metadata ?? {},
      secret: options.secret ?? "",
    };
  }

  async token(): Promise<Token> {
    const now = new Date();
    return { accessToken: "", refreshToken: "", created: now, expiry: now };
  }

  async inspect(): Promise<Account> {
    return { id: randomUUID(), type: "", issuer: this.issuer, scopes: [], metadata: {} };
  }

  async check(): Promise<CheckedToken> {
    // Nothing to remember: every token is as good as any other.
    return { account: await this.inspect(), expiresAt: 0 };
  }

  async close(): Promise<void> {}
}
