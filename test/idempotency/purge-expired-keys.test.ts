import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DELETE_EXPIRED_KEYS_BATCH } from "../../src/idempotency/idempotency-store.js";
import { purgeExpiredKeys } from "../../src/idempotency/purge-expired-keys.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/** The key purge: every key past the TTL goes, in bounded batches, each starting where the last one stopped. */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());

describe("purgeExpiredKeys", () => {
  it("when keys are past the TTL, then all of them go in batches, oldest first, and the others stay", async () => {
    // Seven expired keys (two with the same created_at, across a batch boundary) and two within the TTL.
    await t.ds.query(
      `INSERT INTO idempotency_keys (owner, key, fingerprint, outcome, facts, created_at)
       SELECT 'purge-test', 'k' || n, 'f', 'response', '{}', now() - make_interval(hours => h)
         FROM unnest(ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9], ARRAY[30, 29, 28, 27, 27, 26, 25, 23, 1]) AS x(n, h)`,
    );
    expect(await purgeExpiredKeys(t.ds, 24, 2)).toBe(7);
    const left = await t.ds.query(`SELECT key FROM idempotency_keys WHERE owner = 'purge-test' ORDER BY key`);
    expect(left.map((r: { key: string }) => r.key)).toEqual(["k8", "k9"]);
  });

  it("when a batch is planned, then its keys come from the created_at index, from where the last batch stopped, and are deleted by ctid", async () => {
    // A handful of rows plan like millions once sequential scans are priced out.
    const plan = await t.ds.transaction(async (m) => {
      await m.query("SET LOCAL enable_seqscan = off");
      await m.query("SET LOCAL enable_bitmapscan = off");
      const rows: Record<string, string>[] = await m.query(`EXPLAIN ${DELETE_EXPIRED_KEYS_BATCH}`, [
        24,
        1000,
        "2026-01-01T00:00:00.123456Z",
      ]);
      return rows.map((r) => r["QUERY PLAN"]).join("\n");
    });
    expect(plan).toMatch(
      /Index Scan using idempotency_keys_created_idx on idempotency_keys\s.*\n\s*Index Cond: \(\(created_at < .*created_at >= /,
    );
    expect(plan).toMatch(/Tid Scan on idempotency_keys/);
    expect(plan).not.toMatch(/Seq Scan on idempotency_keys/);
  });
});
