/**
 * Which identity an outgoing call or message carries. The metadata of the call being served is
 * passed on (minus hop headers), then the caller's explicit metadata on top. A client with an
 * identity of its own (a service's token) sends that instead of the token of the call it is
 * serving, unless `forward` is set, so a service does not act with its callers' rights by
 * accident; an Authorization given explicitly always wins.
 */
import { AUTHORIZATION, BEARER_SCHEME } from "../auth/auth.js";
import { type Context, propagatedMetadata } from "../metadata/context.js";
import { Metadata, type MetadataInit } from "../metadata/metadata.js";

/** Where a client's own token comes from: a service identity, or a fixed token. */
export interface TokenSource {
  /** The current access token (undefined: none to send). */
  readonly token: string | undefined;
}

export interface ClientIdentity {
  source: TokenSource;
  /** Calls made while serving another carry that call's token instead of this one (default false). */
  forward?: boolean;
}

/** The metadata to send; undefined when there is none. */
export function outgoingMetadata(ctx: Context | undefined, explicit: MetadataInit | undefined, identity: ClientIdentity | undefined): Metadata | undefined {
  const own = identity?.source.token;
  const inherited = ctx ? propagatedMetadata(ctx) : undefined;
  // Even while its own token is missing (not yet issued, or expired unrenewed) a client with an
  // identity never falls back to its caller's.
  if (inherited && identity && !identity.forward) inherited.delete(AUTHORIZATION);
  let metadata = inherited;
  if (explicit) metadata = metadata ? metadata.merge(explicit) : explicit instanceof Metadata ? explicit : new Metadata(explicit);
  if (own === undefined || metadata?.has(AUTHORIZATION)) return metadata;
  return (metadata === explicit ? new Metadata(metadata) : (metadata ?? new Metadata())).set(AUTHORIZATION, bearer(own));
}

let lastBearer = { token: "", value: "" };

/**
 * `Bearer <token>`, made once per token rather than per call: a fresh concatenation is a rope
 * that every call would flatten again (a token is some 500 characters).
 */
export function bearer(token: string): string {
  if (lastBearer.token !== token) lastBearer = { token, value: `${BEARER_SCHEME}${token}` };
  return lastBearer.value;
}

/** A token that never changes (`--token`, `MICRO_AUTH_TOKEN`). */
export function fixedToken(token: string): TokenSource {
  return { token };
}
