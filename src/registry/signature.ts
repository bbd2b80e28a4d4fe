/**
 * What a node's signature covers (see docs/auth.md, "Trustworthy discovery"). The registry only
 * carries the signature, in the node's metadata under NODE_SIGNATURE, so a Go Micro service reads
 * a signed record as any other; the keys are the auth's business (service/ signs with them,
 * SignedNodes checks for client/verified.ts and the HTTP broker).
 *
 * Covered: the service name and version, the node's id and address, and every metadata entry but
 * the signature itself. A record with a copied signature and another address, name, id or
 * metadata fails. Not covered: the endpoint list (mDNS and some Go Micro registries rebuild or
 * drop it, and it routes no traffic: a forged list can only change which signed nodes are picked
 * for an endpoint) and the service-level metadata.
 */
import type { Logger } from "../logger/logger.js";
import type { Node, ServiceRecord } from "./registry.js";

/** The node metadata key the signature travels under. */
export const NODE_SIGNATURE = "signature";
/** Bumped if what is signed ever changes, so old and new signatures never read as each other. */
const SIGNED_FORMAT = "ts-micro/node/1";

/** The text a node's signature is over: deterministic, whatever order the metadata came in. */
export function signedContent(service: Pick<ServiceRecord, "name" | "version">, node: Node): string {
  const metadata = Object.entries(node.metadata ?? {})
    .filter(([key]) => key !== NODE_SIGNATURE)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([SIGNED_FORMAT, service.name, service.version, node.id, node.address, metadata]);
}

/**
 * Signs a node's content. Auth's Signer fits it; it is restated here because registry and auth
 * are side by side in the layers, and the HTTP broker (beside both) signs its subscriber nodes.
 */
export interface NodeSigner {
  sign(data: string): string;
}

/** Checks a node's signature (auth's SignatureVerifier fits it, see NodeSigner); false for anything malformed. */
export interface NodeVerifier {
  verify(data: string, signature: string): boolean;
}

/** Puts each node's signature into its metadata (a record this process registers). */
export function signNodes(record: ServiceRecord, signer: NodeSigner): void {
  for (const node of record.nodes) node.metadata = { ...node.metadata, [NODE_SIGNATURE]: signer.sign(signedContent(record, node)) };
}

/** Most node ids remembered as already reported; past it, reports start over. */
const MAX_REPORTED = 10_000;

/**
 * Keeps the nodes whose signature verifies (MICRO_REGISTRY_VERIFY): a process that can write the
 * registry but does not hold the private key cannot draw calls or messages to an address of its
 * choosing. Unsigned nodes (Go Micro's, or a ts-micro node without the private key) are left
 * out too; each node left out is logged once. The check runs once per record array the registry
 * cache hands out (the same array until the service changes) and once per node.
 */
export class SignedNodes {
  private readonly checked = new WeakMap<readonly ServiceRecord[], ServiceRecord[]>();
  private readonly nodes = new WeakMap<Node, boolean>();
  private readonly reported = new Set<string>();

  constructor(
    private readonly verifier: NodeVerifier,
    private readonly logger?: Logger,
  ) {}

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
