import { describe, expect, it } from "vitest";

/**
 * The dashboard's webhooks panel logic (public/dashboard/panels/webhooks.js, a plain
 * ES module), run in Node: an endpoint's health in one word, and the recent
 * attempts of every endpoint merged newest first.
 */
type Endpoint = {
  id: string;
  url: string;
  status: "enabled" | "disabled";
  health: { lastSuccessAt: string | null; failingStreak: number; pendingDeliveries: number };
};
type WebhooksModule = {
  endpointHealth(e: Endpoint): { kind: string; label: string };
  recentAttempts(
    pages: { endpoint: Endpoint; items: { eventId: string; attempt: number; at: string }[] }[],
    limit?: number,
  ): { eventId: string; endpointId: string; url: string }[];
};
const mod = (await import(new URL("../../public/dashboard/panels/webhooks.js", import.meta.url).href)) as WebhooksModule;

const endpoint = (over: Partial<Omit<Endpoint, "health">> & { health?: Partial<Endpoint["health"]> } = {}): Endpoint => ({
  id: "e1",
  url: "https://hooks.example/a",
  status: "enabled",
  ...over,
  health: { lastSuccessAt: null, failingStreak: 0, pendingDeliveries: 0, ...over.health },
});

describe("the dashboard's webhooks panel", () => {
  it("when an endpoint's streak of failures grows, then it reads healthy, retrying, then failing; disabled wins", () => {
    expect(mod.endpointHealth(endpoint({ health: { lastSuccessAt: "2026-01-01T00:00:00.000Z" } })).kind).toBe("healthy");
    expect(mod.endpointHealth(endpoint()).label).toBe("no deliveries yet");
    expect(mod.endpointHealth(endpoint({ health: { failingStreak: 2 } })).kind).toBe("retrying");
    expect(mod.endpointHealth(endpoint({ health: { failingStreak: 3 } }))).toEqual({ kind: "failing", label: "failing · 3 in a row" });
    expect(mod.endpointHealth(endpoint({ status: "disabled", health: { failingStreak: 9 } })).kind).toBe("disabled");
  });

  it("when several endpoints have attempts, then the recent list merges them newest first, capped", () => {
    const a = endpoint({ id: "a" });
    const b = endpoint({ id: "b", url: "https://hooks.example/b" });
    const merged = mod.recentAttempts(
      [
        {
          endpoint: a,
          items: [
            { eventId: "evt_a2", attempt: 1, at: "2026-01-01T00:00:03.000Z" },
            { eventId: "evt_a1", attempt: 1, at: "2026-01-01T00:00:01.000Z" },
          ],
        },
        { endpoint: b, items: [{ eventId: "evt_b1", attempt: 2, at: "2026-01-01T00:00:02.000Z" }] },
      ],
      2,
    );
    expect(merged.map((x) => [x.eventId, x.endpointId])).toEqual([
      ["evt_a2", "a"],
      ["evt_b1", "b"],
    ]);
    expect(merged[1].url).toBe("https://hooks.example/b");
  });
});
