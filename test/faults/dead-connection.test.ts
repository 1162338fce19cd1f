import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDataSource, defaultDbSettings } from "../../ormconfig.js";
import { viaPort } from "../support/fault-app.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import { createTestDatabase } from "../support/test-database.js";

/**
 * A connection whose call got no answer within query_timeout is dead to the
 * service: pg gives up on the call but keeps the connection, still busy with
 * it, and a transaction's connection (TypeORM's query runner) goes back to
 * the pool without an error. The next user of that connection would queue
 * behind the lost call and wait out query_timeout again, and so on for every
 * request that gets it. The pool must drop it instead.
 */
let database: Awaited<ReturnType<typeof createTestDatabase>>;
let proxy: TcpProxy;

beforeAll(async () => {
  database = await createTestDatabase();
  proxy = await startTcpProxy(Number(new URL(database.url).port));
});

afterAll(async () => {
  await proxy?.close();
  await database?.drop();
});

describe("a pooled connection that stopped answering", () => {
  it("when a transaction's call times out on the client, then the transaction fails after one query_timeout and the pool hands out a live connection next", async () => {
    // statement 500 ms → query_timeout 5.5 s; one connection, so a dead one would be handed out again.
    const ds = createDataSource(viaPort(database.url, proxy.port), { ...defaultDbSettings, poolSize: 1, statementTimeoutMs: 500 });
    await ds.initialize();
    try {
      proxy.stallRepliesAfter("lost_in_transit"); // that call's answer never comes back
      const started = Date.now();
      await expect(ds.transaction((m) => m.query(`SELECT 'lost_in_transit'`))).rejects.toThrow("Query read timeout");
      const failedAfterMs = Date.now() - started;
      expect(failedAfterMs, "one query_timeout, not a second one for the ROLLBACK").toBeLessThan(8000);

      const next = Date.now();
      expect(await ds.query("SELECT 1 AS ok")).toEqual([{ ok: 1 }]);
      expect(Date.now() - next, "the next call got a live connection").toBeLessThan(1500);
    } finally {
      proxy.heal();
      await ds.destroy();
    }
  }, 40_000);
});
