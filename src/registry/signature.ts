/**
 * What a node's signature covers (see docs/auth.md, "Trustworthy discovery"). The registry only
 * carries the signature, in the node's metadata under NODE_SIGNATURE, so a Go Micro service reads
 * a signed record as any other; signing and checking it is the auth's business (service/ signs,
 * client/verified.ts checks).
 *
 * Covered: the service name and version, the node's id and address, and every metadata entry but
 * the signature itself. A record with a copied signature and another address, name, id or
 * metadata fails. Not covered: the endpoint list (mDNS and some Go Micro registries rebuild or
 * drop it, and it routes no traffic: a forged list can only change which signed nodes are picked
 * for an endpoint) and the service-level metadata.
 */
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
