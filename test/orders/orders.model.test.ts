import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expireReservations } from "../../src/orders/expire-reservations.js";
import { createCustomer, uniqueKey, uniqueSku } from "../support/factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/**
 * Model-based test: random sequences of place, patch (fresh or stale
 * version), cancel, restock, expire and retry-with-the-same-key run against
 * the HTTP API and against a few lines of in-memory model; after every step
 * the answers and every product's onHand/reserved must agree.
 */
let t: TestApp;
let customer: { auth: Record<string, string> };
beforeAll(async () => {
  t = await startTestApp();
  customer = await createCustomer(t, "model");
});
afterAll(async () => t.close());

type Line = { sku: number; quantity: number };
type Cmd =
  | { kind: "place"; lines: Line[] }
  | { kind: "retry"; pick: number }
  | { kind: "patch"; pick: number; lines: Line[]; stale: boolean }
  | { kind: "cancel"; pick: number }
  | { kind: "restock"; sku: number; delta: number }
  | { kind: "expire"; pick: number };

const linesArb = fc.uniqueArray(fc.record({ sku: fc.integer({ min: 0, max: 2 }), quantity: fc.integer({ min: 1, max: 4 }) }), {
  minLength: 1,
  maxLength: 3,
  selector: (l) => l.sku,
});
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("place" as const), lines: linesArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("retry" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("patch" as const), pick: fc.nat(), lines: linesArb, stale: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("cancel" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("restock" as const),
      sku: fc.integer({ min: 0, max: 2 }),
      delta: fc.integer({ min: -3, max: 5 }).filter((d) => d !== 0),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("expire" as const), pick: fc.nat() }) },
);

type ModelOrder = { id: string; status: string; lines: Line[]; version: number };

async function runSequence(initial: number[], cmds: Cmd[]): Promise<void> {
  const skus = initial.map(() => uniqueSku("M"));
  const model = {
    onHand: [...initial],
    reserved: initial.map(() => 0),
    orders: [] as ModelOrder[],
    sent: [] as { key: string; body: object; status: number; id?: string }[],
  };
  for (let i = 0; i < skus.length; i++) {
    const r = await t.http().post("/v1/products").set(t.admin).send({ sku: skus[i], name: "m", priceCents: 100, onHand: initial[i] });
    expect(r.status).toBe(201);
  }
  const available = (s: number) => model.onHand[s] - model.reserved[s];
  const wire = (lines: Line[]) => lines.map((l) => ({ sku: skus[l.sku], quantity: l.quantity }));
  const release = (o: ModelOrder) => {
    for (const l of o.lines) model.reserved[l.sku] -= l.quantity;
  };

  for (const cmd of cmds) {
    const ctx = JSON.stringify(cmd);
    switch (cmd.kind) {
      case "place": {
        const key = uniqueKey();
        const body = { lines: wire(cmd.lines) };
        const res = await t.http().post("/v1/orders").set(customer.auth).set("Idempotency-Key", key).send(body);
        const fits = cmd.lines.every((l) => l.quantity <= available(l.sku));
        expect(res.status, ctx).toBe(fits ? 201 : 409);
        if (fits) {
          for (const l of cmd.lines) model.reserved[l.sku] += l.quantity;
          model.orders.push({ id: res.body.id, status: "reserved", lines: cmd.lines, version: 1 });
        }
        model.sent.push({ key, body, status: res.status, id: res.body.id });
        break;
      }
      case "retry": {
        if (model.sent.length === 0) break;
        const s = model.sent[cmd.pick % model.sent.length];
        const res = await t.http().post("/v1/orders").set(customer.auth).set("Idempotency-Key", s.key).send(s.body);
        expect(res.status, ctx).toBe(s.status);
        expect(res.headers["idempotent-replayed"], ctx).toBe("true");
        expect(res.body.id, ctx).toBe(s.id);
        break;
      }
      case "patch": {
        if (model.orders.length === 0) break;
        const o = model.orders[cmd.pick % model.orders.length];
        if (cmd.stale && o.version === 1) break;
        const version = cmd.stale ? o.version - 1 : o.version;
        const res = await t
          .http()
          .patch(`/v1/orders/${o.id}`)
          .set(customer.auth)
          .send({ version, lines: wire(cmd.lines) });
        if (cmd.stale) {
          expect([res.status, res.body.code], ctx).toEqual([409, "version_conflict"]);
        } else if (o.status !== "reserved") {
          expect([res.status, res.body.code], ctx).toEqual([409, "invalid_state"]);
        } else {
          const delta = new Map<number, number>();
          for (const l of o.lines) delta.set(l.sku, (delta.get(l.sku) ?? 0) - l.quantity);
          for (const l of cmd.lines) delta.set(l.sku, (delta.get(l.sku) ?? 0) + l.quantity);
          const fits = [...delta].every(([s, d]) => d <= available(s));
          expect(res.status, ctx).toBe(fits ? 200 : 409);
          if (fits) {
            for (const [s, d] of delta) model.reserved[s] += d;
            o.lines = cmd.lines;
            o.version++;
          }
        }
        break;
      }
      case "cancel": {
        if (model.orders.length === 0) break;
        const o = model.orders[cmd.pick % model.orders.length];
        const res = await t.http().post(`/v1/orders/${o.id}/cancel`).set(customer.auth);
        if (o.status === "reserved") {
          expect(res.status, ctx).toBe(200);
          release(o);
          o.status = "cancelled";
          o.version++;
        } else if (o.status === "cancelled") {
          expect(res.status, ctx).toBe(200);
        } else {
          expect([res.status, res.body.code], ctx).toEqual([409, "invalid_state"]);
        }
        break;
      }
      case "restock": {
        const res = await t
          .http()
          .post(`/v1/products/${skus[cmd.sku]}/stock-adjustments`)
          .set(t.admin)
          .send({ delta: cmd.delta, reason: "model" });
        const ok = model.onHand[cmd.sku] + cmd.delta >= model.reserved[cmd.sku];
        expect(res.status, ctx).toBe(ok ? 200 : 409);
        if (ok) model.onHand[cmd.sku] += cmd.delta;
        break;
      }
      case "expire": {
        if (model.orders.length === 0) break;
        const o = model.orders[cmd.pick % model.orders.length];
        // Time travel for this one order only: its hold ran out a second ago.
        await t.ds.query(`UPDATE orders SET reserved_until = now() - interval '1 second' WHERE id = $1 AND status = 'reserved'`, [o.id]);
        await expireReservations(t.ds);
        if (o.status === "reserved") {
          release(o);
          o.status = "expired";
          o.version++;
        }
        break;
      }
    }
    // After every step: all products and every order agree with the model.
    const rows = await t.ds.query(`SELECT sku, on_hand, reserved FROM products WHERE sku = ANY($1)`, [skus]);
    const bySku = new Map(rows.map((r: { sku: string; on_hand: number; reserved: number }) => [r.sku, r]));
    skus.forEach((sku, i) => {
      expect(bySku.get(sku), ctx).toEqual({ sku, on_hand: model.onHand[i], reserved: model.reserved[i] });
    });
    for (const o of model.orders) {
      const [row] = await t.ds.query(`SELECT status, version FROM orders WHERE id = $1`, [o.id]);
      expect(row, `${ctx} order ${o.id}`).toEqual({ status: o.status, version: o.version });
    }
  }
}

describe("orders against an in-memory model", () => {
  it("when random sequences of commands run, then the service never diverges from the model", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 3, maxLength: 3 }),
        fc.array(cmdArb, { maxLength: 14 }),
        runSequence,
      ),
      { numRuns: Number(process.env.MODEL_RUNS ?? 200) },
    );
  }, 600_000);
});
