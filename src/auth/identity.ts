/**
 * A service's own identity: its account's credentials (`MICRO_AUTH_ID`, `MICRO_AUTH_SECRET`)
 * exchanged for a token at start and refreshed before it expires, so the service's outgoing
 * calls and publishes always carry a valid token. Go Micro reads these variables but never uses
 * them; here they work.
 *
 * The token is renewed when two thirds of its life have passed, with the refresh token, or with
 * the credentials if that fails; a failed renewal is retried every second while the current
 * token is still valid, so a short outage of the store costs no call.
 */
import type { Logger } from "../logger/logger.js";
import type { Auth, Token } from "./auth.js";

export interface IdentityOptions {
  auth: Auth;
  id: string;
  secret: string;
  /** Lifetime of each access token in ms (default: the auth's). */
  tokenExpiry?: number;
  logger?: Logger;
}

const RETRY_DELAY = 1_000;

export class ServiceIdentity {
  private current: Token | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: IdentityOptions) {}

  get id(): string {
    return this.options.id;
  }

  /** The access token to send, or undefined before start() or once it expired unrenewed. */
  get token(): string | undefined {
    const current = this.current;
    return current && current.expiry.getTime() > Date.now() ? current.accessToken : undefined;
  }

  /** Gets the first token; rejects (401) when the credentials are refused. */
  async start(): Promise<void> {
    this.stopped = false;
    this.current = await this.options.auth.token({ id: this.options.id, secret: this.options.secret, expiry: this.options.tokenExpiry });
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped || !this.current) return;
    const { created, expiry } = this.current;
    const renewAt = created.getTime() + ((expiry.getTime() - created.getTime()) * 2) / 3;
    this.arm(Math.max(0, renewAt - Date.now()));
  }

  private arm(delay: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.renew(), delay).unref();
  }

  private async renew(): Promise<void> {
    const { auth, id, secret, tokenExpiry: expiry } = this.options;
    try {
      const refreshToken = this.current?.refreshToken;
      this.current = await (refreshToken
        ? auth.token({ refreshToken, expiry }).catch(() => auth.token({ id, secret, expiry }))
        : auth.token({ id, secret, expiry }));
      this.schedule();
    } catch (err) {
      if (this.stopped) return;
      this.options.logger?.warn("renewing the service token failed; retrying", { id, err: (err as Error).message });
      this.arm(RETRY_DELAY);
    }
  }
}
