/**
 * Trustworthy discovery (MICRO_REGISTRY_VERIFY): the client sees only nodes whose registry record
 * carries a valid signature by the auth key pair (registry/signature.ts says what is covered), so
 * a process that can write the registry but does not hold the private key cannot draw calls to an
 * address of its choosing. Unsigned nodes (Go Micro's, or a ts-micro node without the private
 * key) are left out too; each node left out is logged once.
 *
 * The check runs once per record the registry cache hands out, not per call: results are kept
 * by the record array (the cache hands the same array until the service changes) and by node.
 */
import type { SignatureVerifier } from "../auth/signing.js";
import type { Logger } from "../logger/logger.js";
import type { Node, Registry, ServiceRecord } from "../registry/registry.js";
import { NODE_SIGNATURE, signedContent } from "../registry/signature.js";
import type { ServiceLookup } from "./client.js";

/** Most node ids remembered as already reported; past it, reports start over. */
const MAX_REPORTED = 10_000;

export class VerifiedLookup implements ServiceLookup {
  readonly name: string;
  private readonly checked = new WeakMap<readonly ServiceRecord[], ServiceRecord[]>();
  private readonly nodes = new WeakMap<Node, boolean>();
  private readonly reported = new Set<string>();

  constructor(
    private readonly inner: ServiceLookup & Pick<Registry, "name">,
    private readonly verifier: SignatureVerifier,
    private readonly logger?: Logger,
  ) {
    this.name = inner.name;
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
    let out = this.checked.get(services);
    if (out === undefined) {
      out = [];
      for (const service of services) {
        const nodes = service.nodes.filter((node) => this.signed(service, node));
        if (nodes.length > 0) out.push(nodes.length === service.nodes.length ? service : { ...service, nodes });
      }
      this.checked.set(services, out);
    }
    return out;
  }

  private signed(service: ServiceRecord, node: Node): boolean {
    let valid = this.nodes.get(node);
    if (valid === undefined) {
      const signature = node.metadata?.[NODE_SIGNATURE];
      valid = signature !== undefined && this.verifier.verify(signedContent(service, node), signature);
      this.nodes.set(node, valid);
      if (!valid) this.report(service, node, signature === undefined ? "unsigned" : "signature does not verify");
    }
    return valid;
  }

  private report(service: ServiceRecord, node: Node, reason: string): void {
    const key = `${node.id}\u0000${node.address}\u0000${reason}`;
    if (this.reported.has(key)) return;
    if (this.reported.size >= MAX_REPORTED) this.reported.clear();
    this.reported.add(key);
    this.logger?.warn("ignoring a registry node: its record is not signed by the auth key pair (MICRO_REGISTRY_VERIFY)", {
      service: service.name,
      node: node.id,
      address: node.address,
      reason,
    });
  }
}
