/**
 * An identity: a user or a service, with the scopes that rules grant access by. It sits here,
 * below the auth contract, because a call's Context carries the checked caller's account.
 * The fields and their JSON names are Go Micro's `auth.Account`.
 */
export interface Account {
  /** Unique within the issuer (a JWT's `sub`). */
  id: string;
  /** `user` or `service` (any string Go Micro accepts; `service` marks service identities). */
  type: string;
  /** Who issued it (Go Micro: the auth namespace; a JWT's `iss`). */
  issuer: string;
  /** What rules grant access by; `*`-scoped rules match any account. */
  scopes: string[];
  metadata: Record<string, string>;
  /** The credential to get tokens with; only on a freshly generated account, never on a checked caller. */
  secret?: string;
}
