/**
 * Header references: a large header value a client repeats on every call (its bearer token, ~700
 * bytes) crosses a mux connection once, and later requests name it by a small slot number.
 * Carrying the token in full cost a quarter of a protected service's calls/s (encoding, writing,
 * reading, decoding it to a string, and finding it in the token cache on every call).
 *
 * Negotiated per connection (see protocol.ts for the wire rules):
 * - after its preface the client pings with `Mux-Features: header-refs`; a server that knows
 *   references answers that Pong with `Mux-Header-Refs: <slots> <maxValueBytes>`. An older server
 *   answers a plain Pong, so the client keeps sending full values; an older client never asks,
 *   so the server never sees a reference.
 * - `Mux-Ref-Set: Authorization=3` on a request: this request's Authorization value (sent in
 *   full beside it) is now slot 3 of this connection, replacing what the slot held.
 * - `Mux-Ref: Authorization=3` on a request (no Authorization header): its Authorization value is
 *   the one in slot 3.
 *
 * The server reads these headers only on connections whose client asked for references, and such
 * a client refuses them as caller metadata (reservedHeaderProblem): metadata passed on from
 * elsewhere cannot name a slot holding another caller's token.
 *
 * The client chooses the slots and the server reads a connection's frames in order, so the
 * server's table is always the client's as of the request it reads: a client uses only slots it
 * has set, and evicting (overwriting a slot, round robin) needs no acknowledgement. A reference
 * the server does not hold (a slot never set on this connection) is answered 401 without calling
 * the handler; malformed reference headers are answered 400. Both leave the connection serving.
 */
import { ErrorId, MicroError } from "../../errors/errors.js";
import type { HeaderSwap } from "../framing/header-block.js";
import type { Header } from "../transport.js";

/** Ping header by which a client asks what the server supports. */
export const FEATURES_HEADER = "Mux-Features";
export const HEADER_REFS_FEATURE = "header-refs";
/** Pong header by which a server offers references: "<slots> <maxValueBytes>". */
export const HEADER_REFS_OFFER = "Mux-Header-Refs";
/** Request header naming values taken from slots: "Name=slot[,Name=slot]". */
export const REF_USE = "Mux-Ref";
/** Request header storing values sent in full into slots: "Name=slot[,Name=slot]". */
export const REF_SET = "Mux-Ref-Set";

/** Slots a server offers per connection. A client holds one token, a forwarding one a few more. */
export const DEFAULT_REF_SLOTS = 8;
/** Longest value a server keeps per slot: a JWT with many scopes fits; slots × this bounds the table. */
export const DEFAULT_REF_VALUE_BYTES = 4096;
/** Headers a client sends by reference. */
export const REFERENCED_HEADERS: readonly string[] = ["Authorization"];
/** Shorter values cost less sent in full than a reference and its bookkeeping. */
const MIN_REF_LENGTH = 64;
/** What a client accepts in an offer: the most slots it will track. */
const MAX_CLIENT_SLOTS = 64;

/**
 * Why a caller's `header` may not be sent on a connection that asked for references: the
 * reference headers are the transport's own. A caller passing on metadata it was given (a
 * gateway's HTTP headers) could otherwise name a slot holding another caller's token.
 */
export function reservedHeaderProblem(header: Header): string | undefined {
  if (header[REF_USE] === undefined && header[REF_SET] === undefined) return undefined;
  return `header ${header[REF_USE] === undefined ? REF_SET : REF_USE} is reserved by the mux transport`;
}

/** The Pong header a server answers a hello with, or undefined when it does not take references. */
export function refOffer(hello: Header, slots: number): string | undefined {
  const features = hello[FEATURES_HEADER];
  if (slots <= 0 || features === undefined || !features.split(",").includes(HEADER_REFS_FEATURE)) return undefined;
  return `${slots} ${DEFAULT_REF_VALUE_BYTES}`;
}

/** A client's table of the values it has set on one connection, mirroring the server's. */
export class ClientHeaderRefs {
  private readonly names: (string | undefined)[];
  private readonly values: (string | undefined)[];
  /** Slot by value (each slot also records its header name). */
  private readonly slotOf = new Map<string, number>();
  /** `Name=slot` per slot, made when the slot is set. */
  private readonly items: string[];
  private nextSlot = 1;
  /** Slots set by the request being written, undone if it is not sent. */
  private readonly pendingSets: number[] = [];
  private readonly swap = { omit: [] as string[], extra: "", extraCount: 0 };

  private constructor(
    private readonly slots: number,
    private readonly maxValueBytes: number,
  ) {
    this.names = new Array<string | undefined>(slots + 1).fill(undefined);
    this.values = new Array<string | undefined>(slots + 1).fill(undefined);
    this.items = new Array<string>(slots + 1).fill("");
  }

  /** The table a server's offer (the Mux-Header-Refs value) allows, or undefined if it is malformed. */
  static fromOffer(offer: string): ClientHeaderRefs | undefined {
    const match = /^(\d{1,6}) (\d{1,9})$/.exec(offer);
    if (!match) return undefined;
    const slots = Math.min(Number(match[1]), MAX_CLIENT_SLOTS);
    const maxValueBytes = Number(match[2]);
    return slots > 0 ? new ClientHeaderRefs(slots, maxValueBytes) : undefined;
  }

  /**
   * How to write `header`: referenced values left out, the reference headers added; undefined to
   * write it as it is. New values are given slots now: after writing, call sent() or unsent().
   */
  plan(header: Header): HeaderSwap | undefined {
    let uses = "";
    let sets = "";
    const omit = this.swap.omit;
    // Only when there is something to clear: storing an array's length goes through a setter in
    // V8's runtime (~450 instructions), twice per call for nothing when no token is referenced.
    if (omit.length !== 0) omit.length = 0;
    if (this.pendingSets.length !== 0) this.pendingSets.length = 0;
    for (const name of REFERENCED_HEADERS) {
      const value = header[name];
      if (value === undefined || value.length < MIN_REF_LENGTH) continue;
      const known = this.slotOf.get(value);
      if (known !== undefined && this.names[known] === name) {
        omit.push(name);
        uses = uses === "" ? this.items[known] : `${uses},${this.items[known]}`;
        continue;
      }
      if (Buffer.byteLength(value) > this.maxValueBytes) continue;
      const slot = this.claim(name, value);
      sets = sets === "" ? this.items[slot] : `${sets},${this.items[slot]}`;
    }
    if (uses === "" && sets === "") return undefined;
    const swap = this.swap;
    swap.extra = uses === "" ? `${REF_SET}\0${sets}` : sets === "" ? `${REF_USE}\0${uses}` : `${REF_USE}\0${uses}\0${REF_SET}\0${sets}`;
    swap.extraCount = (uses === "" ? 0 : 1) + (sets === "" ? 0 : 1);
    return swap;
  }

  /** The planned request was not sent: the server never saw its sets, so those slots hold nothing we know. */
  unsent(): void {
    for (const slot of this.pendingSets) this.release(slot);
    this.pendingSets.length = 0;
  }

  /** Round robin: the slot set longest ago is overwritten. */
  private claim(name: string, value: string): number {
    const slot = this.nextSlot;
    this.nextSlot = slot === this.slots ? 1 : slot + 1;
    this.release(slot);
    this.names[slot] = name;
    this.values[slot] = value;
    this.items[slot] = `${name}=${slot}`;
    this.slotOf.set(value, slot);
    this.pendingSets.push(slot);
    return slot;
  }

  private release(slot: number): void {
    const value = this.values[slot];
    if (value !== undefined && this.slotOf.get(value) === slot) this.slotOf.delete(value);
    this.values[slot] = undefined;
    this.names[slot] = undefined;
  }
}

/** Parsed `Name=slot` lists, by their text: a client sends the same list call after call. */
interface Item {
  name: string;
  slot: number;
}

/** A server's table of one connection's values, by slot. */
export class ServerHeaderRefs {
  private readonly values: (string | undefined)[];
  private lastList = "";
  private lastItems: Item[] | MicroError = [];

  constructor(
    private readonly slots: number,
    private readonly maxValueBytes = DEFAULT_REF_VALUE_BYTES,
  ) {
    this.values = new Array<string | undefined>(slots + 1).fill(undefined);
  }

  /**
   * Replaces the reference headers of a request's `header` by the values they stand for, and
   * stores the values it sets; or the error to answer instead of calling the handler.
   */
  resolve(header: Header): MicroError | undefined {
    const uses = header[REF_USE];
    const sets = header[REF_SET];
    if (uses === undefined && sets === undefined) return undefined;
    // The client writes these last; removing the last property keeps the object's fast shape.
    if (sets !== undefined) delete header[REF_SET];
    if (uses !== undefined) delete header[REF_USE];
    if (sets !== undefined) {
      const items = this.parse(sets, REF_SET);
      if (items instanceof MicroError) return items;
      let failed: MicroError | undefined;
      for (const { name, slot } of items) {
        const value = header[name];
        // A slot whose set failed holds nothing: a later reference to it is a 401, never the slot's older value.
        this.values[slot] = value !== undefined && Buffer.byteLength(value) <= this.maxValueBytes ? value : undefined;
        if (value === undefined) failed ??= refError(400, `${REF_SET} names header ${JSON.stringify(name)}, which the request does not carry`);
        else if (this.values[slot] === undefined) failed ??= refError(400, `${REF_SET}: the ${name} value exceeds ${this.maxValueBytes} bytes`);
      }
      if (failed) return failed;
    }
    if (uses !== undefined) {
      const items = this.parse(uses, REF_USE);
      if (items instanceof MicroError) return items;
      for (const { name, slot } of items) {
        if (Object.hasOwn(header, name)) return refError(400, `header ${JSON.stringify(name)} is both sent and referenced`);
        const value = this.values[slot];
        if (value === undefined) return refError(401, `unknown header reference ${name}=${slot}: this connection has not set it`);
        header[name] = value;
      }
    }
    return undefined;
  }

  private parse(list: string, header: string): Item[] | MicroError {
    if (list === this.lastList) return this.lastItems;
    const items: Item[] = [];
    let problem: MicroError | undefined;
    for (const item of list.split(",")) {
      const at = item.lastIndexOf("=");
      const name = item.slice(0, at);
      const digits = item.slice(at + 1);
      const slot = /^\d{1,6}$/.test(digits) ? Number(digits) : 0;
      if (at <= 0 || slot < 1 || slot > this.slots) {
        problem = refError(400, `malformed ${header} ${JSON.stringify(list)}: expected Name=slot with slots 1..${this.slots}`);
        break;
      }
      items.push({ name, slot });
    }
    this.lastList = list;
    this.lastItems = problem ?? items;
    return this.lastItems;
  }
}

function refError(code: number, detail: string): MicroError {
  return new MicroError(ErrorId.transport, code, detail);
}
