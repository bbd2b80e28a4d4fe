/** What interop/store (Go Micro's postgres and nats-js-kv stores) prints, shared by the store interop tests. */

/** A record as Go Micro's store.Record marshals to JSON. */
export interface GoRecord {
  key: string;
  value: string;
  metadata: Record<string, unknown> | null;
  expiry?: number;
}

export interface GoRead {
  records?: GoRecord[];
  missing?: string[];
  errors?: Record<string, string>;
  error?: string;
}

/** Bytes as Go's encoding/json writes a []byte. */
export const base64 = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString("base64");
