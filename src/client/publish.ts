/**
 * Publishing for a client: `client.publish(topic, payload)` encodes the payload by its
 * Content-Type and hands the message to the broker with Go Micro's headers, so Go Micro
 * subscribers (and ts-micro's, see server/subscriber.ts) read it.
 */
import type { Broker, BrokerPublishOptions, Header } from "../broker/broker.js";
import { type Codecs, ContentType, DEFAULT_CONTENT_TYPE } from "../codec/index.js";
import { randomUUID } from "../driver/crypto.js";
import { ErrorId } from "../errors/errors.js";
import type { Context } from "../metadata/context.js";
import { MicroHeader } from "../metadata/headers.js";
import type { Metadata } from "../metadata/metadata.js";
import { type ClientIdentity, outgoingMetadata } from "./identity.js";

export interface PublishOptions extends BrokerPublishOptions {
  /** Sent as message headers. */
  metadata?: Record<string, string> | Metadata;
  /** Content-Type of the payload (default: the client's, normally application/json; Uint8Array payloads: application/octet-stream). */
  contentType?: string;
  /** The context being served, to pass its metadata on (tracing ids, auth). */
  ctx?: Context;
}

/**
 * Encodes `payload` by Content-Type and publishes it with Go Micro's headers: the metadata,
 * `Content-Type`, `Micro-Topic` and a fresh `Micro-Id`.
 */
export async function publishPayload(
  broker: Broker,
  codecs: Codecs,
  topic: string,
  payload: unknown,
  options: PublishOptions & { defaultContentType?: string; from?: string; identity?: ClientIdentity } = {},
): Promise<void> {
  const contentType = options.contentType ?? (payload instanceof Uint8Array ? ContentType.bytes : (options.defaultContentType ?? DEFAULT_CONTENT_TYPE));
  const body = codecs.get(contentType, ErrorId.client).encode(payload);
  const header: Header = {};
  const metadata = outgoingMetadata(options.ctx, options.metadata, options.identity);
  if (metadata) for (const [key, value] of metadata) header[key] = value;
  if (options.from) header[MicroHeader.FromService] = options.from;
  header[MicroHeader.ContentType] = contentType;
  header[MicroHeader.Topic] = topic;
  header[MicroHeader.Id] = randomUUID();
  await broker.publish(topic, { header, body }, { signal: options.signal });
}
