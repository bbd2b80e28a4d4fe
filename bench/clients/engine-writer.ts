/**
 * One of several processes writing one embedded database at once, for the file store's engine
 * choice: `node engine-writer.js <engine> <path> <writer id> <start at (epoch ms)> <seconds>`.
 * Writes records `w<id>-<n>` (the store's row: value, metadata, expiry) one statement or put at a
 * time from `start at` for `seconds`, then prints one JSON line: {ops, errors}.
 */
import { type EngineKind, openEngine } from "../engines.js";

const [engine, file, id, startAt, seconds] = process.argv.slice(2);
const db = await openEngine(engine as EngineKind, file);
const value = Buffer.alloc(100, 120);
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));
const end = Date.now() + Number(seconds) * 1_000;
let ops = 0;
let errors = 0;
while (Date.now() < end) {
  try {
    await db.write(`w${id}-${ops}`, value);
    ops++;
  } catch {
    errors++;
  }
}
await db.close();
process.stdout.write(`${JSON.stringify({ ops, errors })}\n`);
