import { describe, expect, it } from "vitest";
import { auditDeliveries } from "../../bench/deliveries.js";
import { heldSeconds, judgeMemory, judgeTable, soakChunkSeconds, soakServiceEnv } from "../../bench/soak.js";
import { purgeEveryMs } from "../../src/background-jobs.js";
import { loadConfig } from "../../src/config.js";

/**
 * The soak's memory verdict (`npm run bench -- --soak=<s>`): a leak lifts the
 * whole later curve, so it must be reported; the sawtooth of a healthy
 * process (GC, allocator arenas) must not be.
 */
describe("soak memory verdict", () => {
  it("calls a steadily rising RSS growth", () => {
    const leaking = [130, 140, 150, 160, 170, 180, 190, 200, 210];
    expect(judgeMemory(leaking)).toEqual({ firstThirdMaxRssMiB: 150, lastThirdMinRssMiB: 190, flat: false });
  });

  it("calls a sawtooth around a level flat, even with a peak late in the run", () => {
    const sawtooth = [128, 150, 131, 149, 127, 152, 130, 161, 129];
    expect(judgeMemory(sawtooth).flat).toBe(true);
  });

  it("skips unreadable samples and refuses to judge fewer than three", () => {
    expect(judgeMemory([120, undefined, 121, 122]).flat).toBe(true);
    expect(() => judgeMemory([120, undefined, 121])).toThrow(/only 2 times/);
  });

  it("cuts soaks of 30 s and more into six or more chunks of 5–30 s", () => {
    expect(soakChunkSeconds(10)).toBe(5);
    expect(soakChunkSeconds(30)).toBe(5);
    expect(soakChunkSeconds(179)).toBe(29);
    expect(soakChunkSeconds(120)).toBe(20);
    expect(soakChunkSeconds(1800)).toBe(30);
  });
});

/**
 * The soak's retention verdicts: a purged table levels off at the rate times
 * its window, and the purge's cadence makes it a sawtooth; a table nothing
 * purges grows with the load.
 */
describe("soak table verdict", () => {
  it("calls a table that grows with the load growth, in rows and in seconds of inserts held", () => {
    const unpurged = [40_000, 80_000, 120_000, 160_000, 200_000, 240_000];
    const held = [60, 120, 180, 240, 300, 360];
    expect(judgeTable(unpurged, held)).toMatchObject({
      rows: { firstThirdMax: 80_000, lastThirdMax: 240_000, grew: true },
      heldSeconds: { firstThirdMax: 120, lastThirdMax: 360, grew: true },
      bounded: false,
    });
    expect(judgeTable(unpurged, [undefined, undefined, undefined, 240, 300, 360]).bounded).toBe(false);
  });

  it("calls a purged table's sawtooth bounded, also when the load doubles late (its seconds held stay level)", () => {
    expect(judgeTable([118_000, 131_000, 120_000, 129_500, 117_000, 132_000], [90, 99, 91, 98, 90, 99]).bounded).toBe(true);
    const loadDoubled = judgeTable([60_000, 66_000, 61_000, 120_000, 132_000, 125_000], [90, 99, 91, 92, 99, 95]);
    expect(loadDoubled).toMatchObject({ rows: { grew: true }, heldSeconds: { grew: false }, bounded: true });
  });

  it("calls a small table's noise within one purge batch bounded, however noisy its seconds held", () => {
    expect(judgeTable([64, 64, 64, 64, 64, 64], [30, 60, 15, 90, 30, 120]).bounded).toBe(true);
  });

  it("refuses to judge fewer than three samples taken once retention is in effect", () => {
    expect(() => judgeTable([1, 2], [1, 2])).toThrow(/only 2 times/);
  });

  it("reads seconds held as rows ÷ the insert rate since a census at least a window older", () => {
    const census = (atSeconds: number, rows: number, inserted: number) => ({
      atSeconds,
      rows: { events: rows, webhook_deliveries: 0, webhook_delivery_attempts: 0, idempotency_keys: 0, rate_limits: 0 },
      inserted: { events: inserted, webhook_deliveries: 0, webhook_delivery_attempts: 0, idempotency_keys: 0, rate_limits: 0 },
    });
    // 1,000 inserts a second, a 90 s retention: the table holds about 90 s of them.
    const censuses = [
      census(0, 0, 0),
      census(30, 30_000, 30_000),
      census(60, 60_000, 60_000),
      census(90, 90_000, 90_000),
      census(120, 95_000, 120_000),
    ];
    expect(heldSeconds(censuses, 4, "events", 99)).toBe(95);
    expect(heldSeconds(censuses, 3, "events", 99)).toBeUndefined();
    expect(heldSeconds(censuses, 4, "webhook_deliveries", 99)).toBeUndefined();
  });

  it("compresses retention to a tenth of the soak, which the service reads as such and purges every tenth of", () => {
    const config = loadConfig(soakServiceEnv(900));
    expect(config.eventRetentionDays * 86_400).toBeCloseTo(90, 6);
    expect(config.idempotencyTtlHours * 3_600).toBeCloseTo(90, 6);
    expect(purgeEveryMs(config.eventRetentionDays * 86_400_000, 600_000)).toBe(9_000);
    expect(purgeEveryMs(config.idempotencyTtlHours * 3_600_000, 60_000)).toBe(9_000);
    expect(config.webhooks).toMatchObject({ allowInsecureUrls: true, allowPrivateUrls: true });
    expect(loadConfig(soakServiceEnv(60)).eventRetentionDays * 86_400).toBeCloseTo(10, 6);
  });
});

describe("soak delivery audit", () => {
  it("counts an event never received as missing, repeats as allowed, and the lag from commit to first receipt", () => {
    const expected = new Map([
      ["evt_a", { type: "order.paid", createdAtMs: 1_000 }],
      ["evt_b", { type: "refund.succeeded", createdAtMs: 2_000 }],
      ["evt_c", { type: "order.paid", createdAtMs: 3_000 }],
    ]);
    const received = new Map([
      ["evt_a", { count: 2, firstAtMs: 1_050 }],
      ["evt_b", { count: 1, firstAtMs: 2_400 }],
    ]);
    expect(auditDeliveries(expected, { received, invalid: 0 })).toMatchObject({
      expected: 3,
      delivered: 2,
      missing: 1,
      missingSample: ["evt_c"],
      repeats: 1,
      lagMaxMs: 400,
      byType: { "order.paid": 2, "refund.succeeded": 1 },
      ok: false,
    });
    received.set("evt_c", { count: 1, firstAtMs: 3_010 });
    expect(auditDeliveries(expected, { received, invalid: 0 }).ok).toBe(true);
    expect(auditDeliveries(expected, { received, invalid: 1 }).ok).toBe(false);
  });
});
