/**
 * Load generator and start-up probe for the Node peers, run as its own process:
 *
 *   node load.js run <peer> <address> <concurrency> <warmup s> <seconds>   one JSON result line
 *   node load.js probe <peer> <address|->                                  see probe()
 */
import readline from "node:readline";
import { closedLoop } from "../payload.js";
import { type Caller, connect } from "./callers.js";
import { wallMicros } from "./proc.js";

const [mode, peer, address, ...rest] = process.argv.slice(2);

async function run(): Promise<void> {
  const [concurrency, warmup, seconds] = rest.map(Number);
  const caller = await untilServed(address);
  const result = await closedLoop(() => caller.call(), concurrency, warmup, seconds);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await caller.close();
}

/**
 * Prints WAITING, waits for the first successful call and prints its wall time, so the parent
 * can time server process start → first served call. An address of `-` is read from stdin (for
 * servers that choose their own port).
 */
async function probe(): Promise<void> {
  process.stdout.write("WAITING\n");
  const caller = await untilServed(address === "-" ? await firstLine() : address);
  process.stdout.write(`${JSON.stringify({ served_at_us: wallMicros() })}\n`);
  await caller.close();
}

/**
 * Connects and calls every 2 ms until a call succeeds (the server is listening and, where there
 * is discovery, discovered). Also keeps a load run from spinning on failures that reject at once
 * (Moleculer before discovery), which would starve the timers that end the run.
 */
async function untilServed(where: string): Promise<Caller> {
  let caller: Caller | undefined;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(2)) {
    caller ??= await connect(peer, where).catch(() => undefined);
    if (!caller) continue;
    try {
      await caller.call();
      return caller;
    } catch {
      // Not served yet: keep the caller and try again.
    }
  }
  throw new Error(`${peer}: no successful call to ${where} within 30 s`);
}

function firstLine(): Promise<string> {
  const lines = readline.createInterface({ input: process.stdin });
  return new Promise((resolve) =>
    lines.once("line", (line) => {
      lines.close();
      resolve(line.trim());
    }),
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

await (mode === "probe" ? probe() : run());
// Brokers and pools may hold timers or sockets open; the answer is out, so leave now.
process.exit(0);
