export { AccountStore, type AccountStoreOptions } from "./accounts.js";
export {
  type Access,
  type Account,
  AUTH_ERROR_ID,
  AUTHORIZATION,
  type Auth,
  BEARER_SCHEME,
  badAuthInput,
  bearerToken,
  type CheckedToken,
  type GenerateOptions,
  InvalidTokenError,
  type Resource,
  type Rule,
  type Rules,
  SCOPE_ACCOUNT,
  SCOPE_PUBLIC,
  type Token,
  type TokenOptions,
} from "./auth.js";
export { type CertPair, checkCertName, createLeaf, ensureCa, type LeafOptions, nodeAltNames } from "./certs.js";
export { type IdentityOptions, ServiceIdentity } from "./identity.js";
export { CERTIFICATE_FINGERPRINT, CERTIFICATE_ISSUER, certificateAccount } from "./mtls.js";
export { NoopAuth } from "./noop.js";
export { CompiledRules, checkedRule, formatResource, parseResource, sortRules, verifyAccess } from "./rules.js";
export { rsaSigner, rsaVerifier, type SignatureVerifier, type Signer, verifierFromKeys } from "./signing.js";
export { DEFAULT_AUTH_TABLE, StoreRules, type StoreRulesOptions } from "./store-rules.js";
export { TokenCache } from "./token-cache.js";
