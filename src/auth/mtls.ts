/**
 * mTLS identity: a caller that proved who it is with a client certificate the server's CA signed
 * (and sent no bearer token) is checked as the account the certificate names:
 * - id: the certificate's common name (CN); a certificate without one is no identity;
 * - type: `service`;
 * - scopes: those of the stored account with the same id, when the auth keeps accounts and one
 *   exists; none otherwise. The certificate itself never carries scopes, so a CA cannot grant
 *   more than the accounts store and the rules do: a certificate with no account reaches only
 *   public (`""`) and any-account (`"*"`) resources.
 */
import type { Account } from "../metadata/account.js";
import type { PeerCertificate } from "../metadata/context.js";
import type { Auth } from "./auth.js";

/** The issuer of accounts that come from a certificate with no stored account. */
export const CERTIFICATE_ISSUER = "mtls";
/** The metadata key of the certificate's SHA-256 fingerprint on such an account. */
export const CERTIFICATE_FINGERPRINT = "certificate-sha256";

/** The account a verified client certificate stands for; undefined when it names nobody (no CN). */
export async function certificateAccount(auth: Auth, certificate: PeerCertificate): Promise<Account | undefined> {
  const id = certificate.commonName;
  if (!id) return undefined;
  const stored = await auth.account?.(id);
  return {
    id,
    type: "service",
    issuer: stored?.issuer ?? CERTIFICATE_ISSUER,
    scopes: stored ? [...stored.scopes] : [],
    metadata: { [CERTIFICATE_FINGERPRINT]: certificate.fingerprint256 },
  };
}
