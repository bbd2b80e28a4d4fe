import { after } from "node:test";
import { StoreRules } from "../../src/auth/store-rules.js";
import { PostgresStore } from "../../src/store/postgres.js";
import { rulesConformance } from "../conformance/auth-rules.js";
import { freshTable } from "../conformance/store.js";
import { dropPostgresRunSchemas } from "../setup/run-data.js";
import { requireServer } from "../setup/servers.js";

const ADDRESS = "postgresql://postgres@127.0.0.1:5432/test";
const START = "service postgresql start (or pg_ctlcluster 15 main start); the tests use postgresql://postgres@127.0.0.1:5432/test with trust auth";
/** The schema this run creates is named `t<pid>_…`. */
const database = freshTable();
after(() => dropPostgresRunSchemas(ADDRESS));

// Each instance has its own connection pool, as two nodes of a system would.
rulesConformance("store rules on the postgres store", {
  create: (table) => new StoreRules({ store: new PostgresStore({ address: ADDRESS, database }), table, refreshInterval: 100, ownsStore: true }),
  preflight: () => requireServer("PostgreSQL", 5432, START),
});
