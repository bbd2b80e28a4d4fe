/**
 * Trustworthy discovery (MICRO_REGISTRY_VERIFY): the client sees only nodes whose registry record
 * carries a valid signature by the auth key pair (registry/signature.ts says what is covered and
 * how SignedNodes checks it), so a process that can write the registry but does not hold the
 * private key cannot draw calls to an address of its choosing.
 */
import type { SignatureVerifier } from "../auth/signing.js";
import type { Logger } from "../logger/logger.js";
import type { Registry, ServiceRecord } from "../registry/registry.js";
import { SignedNodes } from "../registry/signature.js";
import type { ServiceLookup } from "./client.js";

export class VerifiedLookup implements ServiceLookup {
  readonly name: string;
  private readonly signed: SignedNodes;

  constructor(
    private readonly inner: ServiceLookup & Pick<Registry, "name">,
    verifier: SignatureVerifier,
    logger?: Logger,
  ) {
    this.name = inner.name;
    this.signed = new SignedNodes(verifier, logger);
  }

  async getService(name: string): Promise<ServiceRecord[]> {
    return this.verified(await this.inner.getService(name));
  }

  getCached(name: string): readonly ServiceRecord[] | undefined {
    const cached = this.inner.getCached?.(name);
    return cached && this.verified(cached);
  }

  /** The records with only their validly signed nodes; a service left with none is left out. */
  verified(services: readonly ServiceRecord[]): ServiceRecord[] {
    return this.signed.verified(services);
  }
}
