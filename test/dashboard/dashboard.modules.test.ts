import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The dashboard's pure browser modules (public/dashboard/*.js, plain ES
 * modules without a build), run in Node: the Prometheus text reader, the
 * per-minute rates between polls, and money input. Imported by URL so the
 * type checker does not ask for declarations of browser JavaScript.
 */
type Parsed = {
  families: Map<string, { type: string; help: string }>;
  samples: { name: string; labels: Record<string, string>; value: number }[];
};
type PrometheusModule = {
  parsePrometheus(text: string): Parsed;
  counterTotal(p: Parsed, name: string, where?: Record<string, string>): number | null;
  counterBy(p: Parsed, name: string, label: string): Record<string, number>;
  CounterRates: new (windowMs?: number) => { update(values: Record<string, number | null>, atMs: number): Record<string, number | null> };
};
type FormatModule = {
  inputToCents(text: string): number | null;
  centsToInput(cents: number): string;
  money(cents: number): string;
  clock(ms: number): string;
  span(ms: number): string;
  setCurrency(code: string): void;
};

const load = async <T>(file: string) => (await import(new URL(`../../public/dashboard/${file}`, import.meta.url).href)) as T;
const prom = await load<PrometheusModule>("prometheus.js");
const fmt = await load<FormatModule>("format.js");

const TEXT = `# HELP orderlock_version_conflicts_total Compare-and-swap losses
# TYPE orderlock_version_conflicts_total counter
orderlock_version_conflicts_total{resource="product",source="client"} 3
orderlock_version_conflicts_total{resource="order",source="internal"} 2
# HELP orderlock_webhook_events_total Payment webhook deliveries by outcome
# TYPE orderlock_webhook_events_total counter
orderlock_webhook_events_total{outcome="processed"} 7
orderlock_webhook_events_total{outcome="duplicate"} 4
# TYPE orderlock_idempotency_key_in_use_total counter
# TYPE odd_total counter
odd_total{path="a \\"quoted\\", comma, and } brace",le="+Inf"} 1.5e3 1700000000000
odd_total{path="x"} NaN
not a sample line
`;

describe("the dashboard's Prometheus reader", () => {
  it("when counters have labels, then totals and breakdowns add up per filter", () => {
    const p = prom.parsePrometheus(TEXT);
    expect(prom.counterTotal(p, "orderlock_version_conflicts_total")).toBe(5);
    expect(prom.counterTotal(p, "orderlock_version_conflicts_total", { source: "client" })).toBe(3);
    expect(prom.counterBy(p, "orderlock_version_conflicts_total", "source")).toEqual({ client: 3, internal: 2 });
    expect(prom.counterTotal(p, "orderlock_webhook_events_total", { outcome: "duplicate" })).toBe(4);
  });

  it("when a family is declared without samples, then it is 0; when it is not exported at all, then null (not available)", () => {
    const p = prom.parsePrometheus(TEXT);
    expect(prom.counterTotal(p, "orderlock_idempotency_key_in_use_total")).toBe(0);
    expect(prom.counterTotal(p, "orderlock_webhook_events_total", { outcome: "ignored" })).toBe(0); // declared, no such sample yet
    expect(prom.counterTotal(p, "orderlock_transaction_retries_total")).toBeNull();
  });

  it("when label values hold escapes, commas and braces, and samples carry timestamps, then they are read exactly", () => {
    const p = prom.parsePrometheus(TEXT);
    const odd = p.samples.filter((x) => x.name === "odd_total");
    expect(odd[0]).toEqual({ name: "odd_total", labels: { path: 'a "quoted", comma, and } brace', le: "+Inf" }, value: 1500 });
    expect(Number.isNaN(odd[1].value)).toBe(true);
    expect(p.samples).toHaveLength(6); // "not a sample line" is skipped
  });
});

describe("the dashboard's per-minute rates", () => {
  it("when counters are polled, then the rate is measured over the last minute, null until two polls, and a reset counts from zero", () => {
    const rates = new prom.CounterRates(60_000);
    expect(rates.update({ c: 10, gone: null }, 0)).toEqual({ c: null, gone: null });
    expect(rates.update({ c: 12, gone: null }, 30_000)).toEqual({ c: 4, gone: null }); // 2 in half a minute
    expect(rates.update({ c: 12, gone: null }, 60_000)).toEqual({ c: 2, gone: null }); // 2 in the minute
    expect(rates.update({ c: 12, gone: null }, 120_000).c).toBe(0); // the window moved past the increase
    expect(rates.update({ c: 3, gone: null }, 180_000).c).toBe(3); // the process restarted: 3 since
  });
});

describe("the dashboard's money input", () => {
  it("when a price is typed, then it becomes exact minor units without floating-point rounding", () => {
    fmt.setCurrency("USD");
    expect(fmt.inputToCents("19.99")).toBe(1999);
    expect(fmt.inputToCents("0.29")).toBe(29);
    expect(fmt.inputToCents("1,5")).toBe(150);
    expect(fmt.inputToCents("7")).toBe(700);
    expect(fmt.inputToCents("1.999")).toBeNull();
    expect(fmt.inputToCents("-1")).toBeNull();
    expect(fmt.inputToCents("abc")).toBeNull();
    expect(fmt.centsToInput(1999)).toBe("19.99");
    expect(fmt.centsToInput(5)).toBe("0.05");
    expect(fmt.money(123456)).toBe("$1,234.56");
  });

  it("when the deployment's currency has no minor unit, then prices are whole numbers", () => {
    fmt.setCurrency("JPY");
    expect(fmt.inputToCents("1500")).toBe(1500);
    expect(fmt.inputToCents("15.5")).toBeNull();
    expect(fmt.centsToInput(1500)).toBe("1500");
    fmt.setCurrency("USD");
  });

  it("when times are shown, then ages and countdowns read as people say them", () => {
    expect(fmt.clock(14 * 60_000 + 5_000)).toBe("14:05");
    expect(fmt.clock(3_723_000)).toBe("1:02:03");
    expect(fmt.span(45_000)).toBe("45s");
    expect(fmt.span(125 * 60_000)).toBe("2h 5m");
  });
});

describe("the dashboard's module graph", () => {
  const root = fileURLToPath(new URL("../../public/dashboard/", import.meta.url));
  /** Every module reachable from main.js by static imports, as paths under public/dashboard. */
  function reachable(): Set<string> {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = fs.readFileSync(path.join(root, file), "utf8");
      for (const [, spec] of source.matchAll(/^import\s[^;]*?from\s+"(\.{1,2}\/[^"]+)";/gms))
        visit(path.posix.join(path.posix.dirname(file), spec));
    };
    visit("main.js");
    return seen;
  }

  it("when main.js is loaded, then every module it imports exists under public/dashboard and index.html preloads each of them", () => {
    const modules = reachable();
    expect(modules.has("panels/products.js")).toBe(true); // the panels are split out of main.js
    for (const file of modules) expect(fs.existsSync(path.join(root, file)), file).toBe(true);
    const html = fs.readFileSync(path.join(root, "index.html"), "utf8");
    const preloaded = [...html.matchAll(/<link rel="modulepreload" href="\/dashboard\/([^"]+)">/g)].map((m) => m[1]);
    expect(new Set(preloaded)).toEqual(new Set([...modules].filter((f) => f !== "main.js")));
    expect(html).toContain('<script type="module" src="/dashboard/main.js"></script>');
  });
});
