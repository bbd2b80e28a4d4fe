/**
 * Helpers for the mux tests and the fuzzer: a raw peer that writes hand-made frames to a server
 * and watches what comes back and whether the server closes the connection; a mux server in a
 * child process (its memory measured, or the process frozen); a logger that records.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { PREFACE } from "../../src/transport/framing/frame.js";
import type { MuxOptions } from "../../src/transport/mux/mux.js";
import { splitHostPort } from "../../src/transport/tcp.js";

/** One frame's bytes, exactly as given (nothing is checked: tests build bad frames too). */
export function rawFrame(type: number, stream: number, header: string | Buffer = "", body: Buffer = Buffer.alloc(0), flags = 0): Buffer {
  const headerBytes = typeof header === "string" ? Buffer.from(header, "utf8") : header;
  const out = Buffer.alloc(14 + headerBytes.length + body.length);
  out.writeUInt32BE(10 + headerBytes.length + body.length, 0);
  out[4] = type;
  out[5] = flags;
  out.writeUInt32BE(stream >>> 0, 6);
  out.writeUInt32BE(headerBytes.length, 10);
  headerBytes.copy(out, 14);
  body.copy(out, 14 + headerBytes.length);
  return out;
}

export interface RawPeer {
  readonly socket: net.Socket;
  /** Every byte the server sent. */
  received(): Buffer;
  /** Resolves true when the server closes the connection within `ms`, false otherwise (then it is destroyed). */
  closedWithin(ms: number): Promise<boolean>;
  destroy(): void;
}

/** Connects to `address`; writes the preface first unless `preface` is false. */
export async function rawPeer(address: string, preface = true): Promise<RawPeer> {
  const socket = net.connect(splitHostPort(address));
  socket.on("error", () => {});
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on("data", (d: Buffer) => chunks.push(d));
  const closing = new Promise<void>((resolve) =>
    socket.once("close", () => {
      closed = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  if (preface) socket.write(PREFACE);
  return {
    socket,
    received: () => Buffer.concat(chunks),
    closedWithin: async (ms) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closing, new Promise((r) => (timer = setTimeout(r, ms)))]);
      clearTimeout(timer);
      if (!closed) socket.destroy();
      return closed;
    },
    destroy: () => socket.destroy(),
  };
}

export interface ServerProcess {
  address: string;
  /** The process's resident memory now, in bytes. */
  rss(): number;
  /** False once the process has exited (a crash, for a server that should run until stopped). */
  alive(): boolean;
  stop(): void;
  /** Sends a signal: SIGSTOP freezes the server, SIGCONT thaws it. */
  signal(signal: NodeJS.Signals): void;
}

/** A mux server (mux-server-process.ts) in a child process with `options`. */
export async function serverProcess(options: MuxOptions): Promise<ServerProcess> {
  const script = path.join(import.meta.dirname, "mux-server-process.js");
  const child: ChildProcess = spawn(process.execPath, [script, JSON.stringify(options)], { stdio: ["ignore", "pipe", "inherit"] });
  const address = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) resolve(out.trim());
    });
    child.once("exit", (code) => reject(new Error(`mux server process exited with ${code}`)));
  });
  const rss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) * 1024;
  return {
    address,
    rss,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: () => child.kill("SIGKILL"),
    signal: (signal) => child.kill(signal),
  };
}
