/**
 * Rules when their store stops answering: a node keeps deciding from the rules it read for up to
 * two refresh intervals, then refuses to decide (fails closed, never allows by default), and
 * decides again once the store is back. Against a private Redis server that this test stops.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Account, Resource } from "../../src/auth/auth.js";
import { StoreRules } from "../../src/auth/store-rules.js";
import { RedisStore } from "../../src/store/redis.js";
import { PrivateServer } from "../setup/servers.js";
import { waitFor } from "../setup/wait.js";

const RESOURCE: Resource = { type: "service", name: "greeter", endpoint: "Greeter.Hello" };
const ACCOUNT: Account = { id: "alice", type: "user", issuer: "go.micro", scopes: ["greeter"], metadata: {} };

describe("store rules while the store is down", () => {
  const cleanup: Array<() => Promise<void>> = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  });

  it("decide from memory briefly, then fail closed, then recover", { timeout: 60_000 }, async () => {
    const server = await PrivateServer.create("redis");
    cleanup.push(() => server.dispose());
    const rules = new StoreRules({ store: new RedisStore({ address: server.address }), refreshInterval: 200, ownsStore: true });
    cleanup.push(() => rules.close());
    await rules.grant({ id: "hello", scope: "greeter", access: "granted", priority: 0, resource: RESOURCE });
    assert.equal(await rules.verify(ACCOUNT, RESOURCE), true);

    await server.stop();
    const outcomes = new Set<string>();
    const refused = await waitFor(
      async () => {
        try {
          outcomes.add(String(await rules.verify(ACCOUNT, RESOURCE)));
          return false;
        } catch {
          return true;
        }
      },
      20_000,
      50,
    );
    assert.ok(refused, "verification kept answering with the store down");
    // Until then every answer was the rules' (a grant), never a default.
    assert.deepEqual(
      [...outcomes].filter((outcome) => outcome !== "true"),
      [],
    );

    await server.start();
    const answers = async (): Promise<boolean> =>
      rules.verify(ACCOUNT, RESOURCE).then(
        () => true,
        () => false,
      );
    assert.ok(await waitFor(answers, 20_000, 100), "verification came back with the store");
    // The private server keeps no data across a restart: the rule is granted again, and applies.
    await rules.grant({ id: "hello", scope: "greeter", access: "granted", priority: 0, resource: RESOURCE });
    assert.equal(await rules.verify(ACCOUNT, RESOURCE), true);
  });
});
