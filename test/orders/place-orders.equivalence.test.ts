import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, uniqueKey, uniqueSku } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/**
 * Property: orderlock_place_orders (a batch, all at once when it may, else
 * one by one) decides exactly what orderlock_place_order called for each
 * order in arrival order would: outcomes, facts, stock and stored keys.
 * Random batches from a fixed seed; each is run both ways in a transaction
 * that is rolled back.
 */
let t: TestApp;
let client: pg.Client;
beforeAll(async () => {
  t = await startTestApp();
  client = new pg.Client({ connectionString: t.databaseUrl });
  await client.connect();
});
afterAll(async () => {
  await client.end();
  await t.close();
});

/** A deterministic PRNG (an LCG): the same batches on every run. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

type P = {
  owner: string;
  key: string;
  fingerprint: string;
  keyTtlHours: number;
  orderId: string;
  customerId: string;
  skus: string[];
  qtys: number[];
  holdSeconds: number;
  cap: number;
};

function norm(outcome: string, facts: Record<string, unknown> | null) {
  if (outcome === "placed" && facts) {
    return { outcome, total: facts.total_cents, lines: facts.lines, id: facts.id, status: facts.status };
  }
  return { outcome, facts };
}

/** One element of a batch: an order of `customerId` under (owner, key), held 600 s, with a new id. */
function element(o: Pick<P, "owner" | "key" | "fingerprint" | "customerId" | "skus" | "qtys" | "cap">): P {
  return { ...o, keyTtlHours: 24, orderId: randomUUID(), holdSeconds: 600 };
}

type Decision = { replayed: boolean; outcome: string; facts: Record<string, unknown> | null };

/** What placing decided and left behind: each order's outcome, the SKUs' stock, the batch's stored keys. */
async function stateAfter(decisions: Decision[], batch: P[], skus: string[]) {
  const stock = await client.query(`SELECT sku, on_hand, reserved FROM products WHERE sku = ANY($1) ORDER BY sku`, [skus]);
  const keys = await client.query(`SELECT owner, key, fingerprint, outcome FROM idempotency_keys WHERE key = ANY($1) ORDER BY owner, key`, [
    batch.map((o) => o.key),
  ]);
  return { decided: decisions.map((d) => ({ replayed: d.replayed, ...norm(d.outcome, d.facts) })), stock: stock.rows, keys: keys.rows };
}

/** The batch as one orderlock_place_orders call, rolled back. */
async function asBatch(batch: P[], skus: string[]) {
  await client.query("BEGIN");
  try {
    const r = await client.query(`SELECT * FROM orderlock_place_orders($1) ORDER BY pos`, [JSON.stringify(batch)]);
    return await stateAfter(r.rows, batch, skus);
  } finally {
    await client.query("ROLLBACK");
  }
}

/**
 * Each order alone (orderlock_place_order) in arrival order, rolled back. A
 * key already placed earlier in the batch is still in flight there (its
 * transaction not committed): in_use, as a second request would get.
 */
async function oneByOne(batch: P[], skus: string[]) {
  await client.query("BEGIN");
  try {
    const decisions: Decision[] = [];
    const inFlight = new Set<string>();
    for (const o of batch) {
      const id = `${o.owner}\n${o.key}`;
      if (inFlight.has(id)) {
        decisions.push({ replayed: false, outcome: "in_use", facts: null });
        continue;
      }
      inFlight.add(id);
      const r = await client.query(`SELECT * FROM orderlock_place_order($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`, [
        o.owner,
        o.key,
        o.fingerprint,
        o.keyTtlHours,
        o.orderId,
        o.customerId,
        o.skus,
        o.qtys,
        o.holdSeconds,
        o.cap,
      ]);
      decisions.push(r.rows[0]);
    }
    return await stateAfter(decisions, batch, skus);
  } finally {
    await client.query("ROLLBACK");
  }
}

describe("batch vs one by one", () => {
  it("random batches decide the same as one-by-one in arrival order", async () => {
    const customers = [await createCustomer(t), await createCustomer(t), await createCustomer(t)];
    const mismatches: unknown[] = [];
    const tally: Record<string, number> = {};
    for (let trial = 0; trial < 150; trial++) {
      const r = rng(trial + 1);
      const cap = trial % 3 === 0 ? 1 + Math.floor(r() * 6) : 0;
      const nSku = 1 + Math.floor(r() * 4);
      const skus = Array.from({ length: nSku }, () => uniqueSku("EQ"));
      for (const sku of skus) {
        const onHand = Math.floor(r() * (trial % 2 === 0 ? 8 : 40));
        const reserved = Math.floor(r() * (onHand + 1) * 0.5);
        await client.query(`INSERT INTO products (sku, name, price_cents, on_hand, reserved) VALUES ($1, 'x', $2, $3, $4)`, [
          sku,
          100 + Math.floor(r() * 900),
          onHand,
          reserved,
        ]);
      }
      const nOrders = 2 + Math.floor(r() * 6);
      const batch: P[] = [];
      for (let i = 0; i < nOrders; i++) {
        const c = customers[Math.floor(r() * customers.length)];
        const pool = [...skus];
        if (r() < 0.1) pool.push(uniqueSku("NOPE"));
        const nLines = 1 + Math.floor(r() * Math.min(3, pool.length));
        const chosen: string[] = [];
        while (chosen.length < nLines) {
          const s = pool[Math.floor(r() * pool.length)];
          if (!chosen.includes(s)) chosen.push(s);
        }
        const qtys = chosen.map(() => 1 + Math.floor(r() * 4));
        batch.push(element({ owner: `customer:${c.id}`, key: uniqueKey(), fingerprint: "fp", customerId: c.id, skus: chosen, qtys, cap }));
      }
      const batched = await asBatch(batch, skus);
      const alone = await oneByOne(batch, skus);
      const kind = `${cap > 0 ? "cap" : "nocap"}:${batched.decided.every((d) => d.outcome === "placed") ? "all" : "mixed"}`;
      tally[kind] = (tally[kind] ?? 0) + 1;
      if (JSON.stringify(batched) !== JSON.stringify(alone)) mismatches.push({ trial, batch, batched, alone });
    }
    expect(mismatches.slice(0, 3)).toEqual([]);
    // Both ways of placing a batch were exercised, with and without a cap.
    expect(Object.keys(tally).sort()).toEqual(["cap:all", "cap:mixed", "nocap:all", "nocap:mixed"]);
  });
});

describe("batch vs one by one, with stored, expired and duplicate keys", () => {
  it("random batches with keys decide the same as one-by-one (a key twice in flight: in_use)", async () => {
    const customers = [await createCustomer(t), await createCustomer(t)];
    const mismatches: unknown[] = [];
    const tally: Record<string, number> = {};
    for (let trial = 0; trial < 120; trial++) {
      const r = rng(5000 + trial);
      const cap = trial % 4 === 0 ? 3 : 0;
      const skus = Array.from({ length: 1 + Math.floor(r() * 3) }, () => uniqueSku("EK"));
      for (const sku of skus)
        await client.query(`INSERT INTO products (sku, name, price_cents, on_hand) VALUES ($1, 'x', 100, $2)`, [sku, Math.floor(r() * 20)]);
      // Committed history: some keys stored (placed or out of stock), some expired.
      const stored: { owner: string; key: string; fp: string; customerId: string }[] = [];
      for (let i = 0; i < 3; i++) {
        const c = customers[Math.floor(r() * customers.length)];
        const key = uniqueKey();
        const fp = `fp-${Math.floor(r() * 2)}`;
        await client.query(`SELECT * FROM orderlock_place_order($1,$2,$3,24,$4,$5,$6,$7,600,$8)`, [
          c.id,
          key,
          fp,
          randomUUID(),
          c.id,
          [skus[0]],
          [1 + Math.floor(r() * 3)],
          cap,
        ]);
        if (r() < 0.3)
          await client.query(`UPDATE idempotency_keys SET created_at = now() - interval '30 hours' WHERE owner = $1 AND key = $2`, [
            c.id,
            key,
          ]);
        stored.push({ owner: c.id, key, fp, customerId: c.id });
      }
      const batch: P[] = [];
      const n = 2 + Math.floor(r() * 6);
      for (let i = 0; i < n; i++) {
        const roll = r();
        let owner: string, key: string, fp: string, customerId: string;
        if (roll < 0.35) {
          const s = stored[Math.floor(r() * stored.length)];
          ({ owner, key, customerId } = s);
          fp = r() < 0.7 ? s.fp : "fp-other";
        } else if (roll < 0.5 && batch.length > 0) {
          const b = batch[Math.floor(r() * batch.length)];
          ({ owner, key, customerId } = b);
          fp = r() < 0.5 ? b.fingerprint : "fp-x";
        } else {
          const c = customers[Math.floor(r() * customers.length)];
          owner = c.id;
          customerId = c.id;
          key = uniqueKey();
          fp = "fp-0";
        }
        const chosen = skus.filter(() => r() < 0.6);
        if (chosen.length === 0) chosen.push(skus[0]);
        const qtys = chosen.map(() => 1 + Math.floor(r() * 4));
        batch.push(element({ owner, key, fingerprint: fp, customerId, skus: chosen, qtys, cap }));
      }
      const batched = await asBatch(batch, skus);
      const alone = await oneByOne(batch, skus);
      for (const d of batched.decided) {
        const kind = `${d.outcome}${d.replayed ? "*" : ""}`;
        tally[kind] = (tally[kind] ?? 0) + 1;
      }
      if (JSON.stringify(batched) !== JSON.stringify(alone)) mismatches.push({ trial, batch, batched, alone });
    }
    expect(mismatches.slice(0, 2)).toEqual([]);
    // Replays, reused keys (422), keys in flight twice and fresh orders all came up.
    expect(Object.keys(tally)).toEqual(expect.arrayContaining(["placed", "placed*", "reused", "in_use", "out_of_stock"]));
  });
});
