/**
 * Removing what a test run wrote to a shared server. Runs name their databases (Redis key
 * prefixes, PostgreSQL schemas) `t<pid>_…` (see conformance/store.ts freshTable), so everything
 * a run created can be found and removed without touching other runs' data.
 */
import { Redis } from "ioredis";
import pg from "pg";

/** Deletes every Redis key this run wrote (keys starting with `t<pid>_`). */
export async function deleteRedisRunKeys(address: string): Promise<void> {
  const redis = new Redis(address);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `t${process.pid}_*`, "COUNT", 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** Drops every PostgreSQL schema this run created (named `t<pid>_…`). */
export async function dropPostgresRunSchemas(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", [`t${process.pid}\\_%`]);
    for (const { nspname } of rows) await client.query(`DROP SCHEMA "${nspname}" CASCADE`);
  } finally {
    await client.end();
  }
}
