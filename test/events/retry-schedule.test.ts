import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { retryDelayMs } from "../../src/events/relay-webhooks.js";

/** The back-off between webhook attempts: the documented schedule, ±20 % jitter, the last step repeating. */
describe("retryDelayMs", () => {
  const { webhooks } = loadConfig({});

  it("when nothing is configured, then the schedule is 5 s, 30 s, 2 min, 10 min, 30 min, then hourly, within 24 h", () => {
    expect(webhooks.retryDelaysMs).toEqual([5000, 30000, 120000, 600000, 1800000, 3600000]);
    expect(webhooks.retryHours).toBe(24);
    expect(webhooks.timeoutMs).toBe(10000);
    expect(webhooks.allowInsecureUrls || webhooks.allowPrivateUrls).toBe(false);
  });

  it("when jitter is at its extremes, then each delay stays within ±20 % of its step, and the last step repeats", () => {
    const d = webhooks.retryDelaysMs;
    for (const [attempt, base] of [
      [1, 5000],
      [2, 30000],
      [5, 1800000],
      [6, 3600000],
      [20, 3600000],
    ] as const) {
      expect(retryDelayMs(d, attempt, () => 0)).toBe(base * 0.8);
      expect(retryDelayMs(d, attempt, () => 0.999999)).toBeLessThanOrEqual(base * 1.2);
      expect(retryDelayMs(d, attempt, () => 0.999999)).toBeGreaterThan(base * 1.19);
    }
  });

  it("when WEBHOOK_RETRY_DELAYS_MS is malformed, then the process refuses to start", () => {
    expect(() => loadConfig({ WEBHOOK_RETRY_DELAYS_MS: "5s,30s" })).toThrow(/WEBHOOK_RETRY_DELAYS_MS/);
  });
});
