/**
 * A long fuzzing run of the mux server port (see mux-fuzz.ts):
 *
 *   node dist/test/fuzz/mux-long.js [cases (default 100000)] [seed (default: random)]
 *
 * Prints progress every 5,000 cases; exits 1, naming the seed and the batch, if the server
 * process dies, stops answering a normal call, or grows by more than 200 MiB.
 */
import { MicroHeader } from "../../src/metadata/headers.js";
import { MuxTransport } from "../../src/transport/mux/mux.js";
import { recordingLogger } from "../setup/logger.js";
import { serverProcess } from "../transport/mux-peer.js";
import { FUZZ_SERVER_OPTIONS, runCases } from "./mux-fuzz.js";

const cases = Number(process.argv[2] ?? 100_000);
const seed = Number(process.argv[3] ?? Math.floor(Math.random() * 2 ** 32));
const BATCH = 5_000;
const MiB = 1024 * 1024;

const server = await serverProcess(FUZZ_SERVER_OPTIONS);
const client = new MuxTransport({ logger: recordingLogger([]) });

async function normalCall(): Promise<boolean> {
  try {
    const conn = await client.dial(server.address);
    try {
      const rsp = await conn.call({ header: { [MicroHeader.Endpoint]: "Echo.Echo" }, body: Buffer.from("ok") }, { deadline: Date.now() + 5_000 });
      return Buffer.from(rsp.body).toString() === "ok";
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}

let failure: string | undefined;
await normalCall();
const before = server.rss();
for (let from = 0; from < cases && !failure; from += BATCH) {
  const to = Math.min(cases, from + BATCH);
  await runCases(server.address, seed, from, to);
  const grew = server.alive() ? server.rss() - before : 0;
  if (!server.alive()) failure = "the server process died";
  else if (!(await normalCall())) failure = "the server no longer answers a normal call";
  else if (grew > 200 * MiB) failure = `the server grew by ${(grew / MiB).toFixed(0)} MiB`;
  process.stdout.write(
    `${failure ? "FAIL" : "ok"} cases ${from}..${to - 1} seed ${seed}: RSS +${(grew / MiB).toFixed(0)} MiB${failure ? `: ${failure}` : ""}\n`,
  );
}
server.stop();
process.exit(failure ? 1 : 0);
