/**
 * node:crypto, loaded on its first use: everything the framework takes from it goes through here.
 * A static import would load it in every service at start (the package entry is one bundle), about
 * 4 ms, and a default service needs none of it to start (its node id is made by newId below).
 */
import type * as NodeCrypto from "node:crypto";
import { builtin } from "./driver.js";

export type { KeyObject } from "node:crypto";

/** node:crypto itself, for what the helpers below do not cover (keys, signatures, scrypt). */
export const nodeCrypto = builtin<typeof NodeCrypto>("node:crypto");

export function randomUUID(): string {
  return nodeCrypto().randomUUID();
}

/** A random integer in [0, max). */
export function randomInt(max: number): number {
  return nodeCrypto().randomInt(max);
}

export function randomBytes(size: number): Buffer {
  return nodeCrypto().randomBytes(size);
}

export function createHash(algorithm: string): NodeCrypto.Hash {
  return nodeCrypto().createHash(algorithm);
}

/**
 * A UUID v4 from Math.random, without loading node:crypto: unique (122 random bits from a
 * generator V8 seeds per process from the OS), not secret. For names that must not collide and
 * that anyone may read anyway (a node's id in the registry, a temp file's name); a secret or a
 * token takes randomUUID() or randomBytes().
 */
export function newId(): string {
  const hex = (bits: number): string =>
    Math.floor(Math.random() * 2 ** bits)
      .toString(16)
      .padStart(bits / 4, "0");
  const variant = (8 + Math.floor(Math.random() * 4)).toString(16);
  return `${hex(32)}-${hex(16)}-4${hex(12)}-${variant}${hex(12)}-${hex(24)}${hex(24)}`;
}
