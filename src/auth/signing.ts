/**
 * Signatures with the auth's RS256 key pair, for what is not a token: a node's registry record
 * (registry/signature.ts says what is signed). The node holding `MICRO_AUTH_PRIVATE_KEY` signs;
 * any node holding `MICRO_AUTH_PUBLIC_KEY` checks, with no secret shared. The signature is
 * RSASSA-PKCS1-v1_5 with SHA-256 (what RS256 is), base64url, after a `rs256:` prefix that names
 * the scheme so that another can be added without ambiguity.
 */
import { type KeyObject, nodeCrypto } from "../driver/crypto.js";
import { badAuthInput } from "./auth.js";

const PREFIX = "rs256:";
/** An RSA signature of at most 8192 bits, in base64url, plus the prefix; anything longer is refused unread. */
const MAX_SIGNATURE_LENGTH = PREFIX.length + 1_400;

export interface Signer {
  /** The signature of `data`. */
  sign(data: string): string;
}

export interface SignatureVerifier {
  /** Whether `signature` is a signature of `data` by the matching private key; false for anything malformed. */
  verify(data: string, signature: string): boolean;
}

export function rsaSigner(privateKey: KeyObject): Signer {
  return { sign: (data) => PREFIX + nodeCrypto().sign("sha256", Buffer.from(data), privateKey).toString("base64url") };
}

export function rsaVerifier(publicKey: KeyObject): SignatureVerifier {
  return {
    verify(data, signature) {
      if (typeof signature !== "string" || signature.length > MAX_SIGNATURE_LENGTH || !signature.startsWith(PREFIX)) return false;
      try {
        return nodeCrypto().verify("sha256", Buffer.from(data), publicKey, Buffer.from(signature.slice(PREFIX.length), "base64url"));
      } catch {
        return false;
      }
    },
  };
}

/** A verifier from a base64 PEM public key (or, lacking one, the private key), as MICRO_AUTH_PUBLIC_KEY gives it. */
export function verifierFromKeys(keys: { publicKey?: string; privateKey?: string }): SignatureVerifier {
  if (keys.publicKey) return rsaVerifier(rsaKey(keys.publicKey, "public"));
  if (keys.privateKey) return rsaVerifier(nodeCrypto().createPublicKey(rsaKey(keys.privateKey, "private")));
  throw badAuthInput("checking signed registry records needs MICRO_AUTH_PUBLIC_KEY (the public half of the auth key pair)");
}

/** A base64 PEM (or a PEM as it is) → an RSA key; a clear 400 for anything else. */
export function rsaKey(encoded: string, kind: "public" | "private"): KeyObject {
  const text = encoded.trim();
  const pem = text.startsWith("-----BEGIN") ? text : Buffer.from(text, "base64").toString("utf8");
  let key: KeyObject;
  try {
    key = kind === "private" ? nodeCrypto().createPrivateKey(pem) : nodeCrypto().createPublicKey(pem);
  } catch (err) {
    throw badAuthInput(`MICRO_AUTH_${kind.toUpperCase()}_KEY is not a base64-encoded PEM ${kind} key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== "rsa") throw badAuthInput(`MICRO_AUTH_${kind.toUpperCase()}_KEY must be an RSA key (RS256), not ${key.asymmetricKeyType}`);
  return key;
}
