import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { registry } from "../../src/metrics/registry.js";

/**
 * ops/: the Prometheus alert rules pass `promtool check rules` and their
 * unit tests (`promtool test rules`); every alert is tested firing and
 * quiet; the rules and the Grafana dashboard query only series that
 * /metrics exports (or the two announced ones not exported yet), so a
 * renamed metric cannot leave an alert that silently never fires.
 *
 * promtool comes from Debian's `prometheus` package
 * (.ci/install-debian-packages.sh). Without it these tests are skipped on a
 * workstation, and fail in CI.
 */
const RULES = path.resolve("ops/prometheus/orderlock.rules.yml");
const RULE_TESTS = path.resolve("ops/prometheus/orderlock.rules.test.yml");
const DASHBOARD = path.resolve("ops/grafana/orderlock.json");
const PROMTOOL = process.env.PROMTOOL ?? "promtool";

/** Named in the rules and the dashboard before the service exports them (see the rules file). */
const ANNOUNCED_SERIES = ["orderlock_webhook_deliveries_total", "orderlock_replica_lag_seconds"];

function promtool(...args: string[]) {
  return spawnSync(PROMTOOL, args, { encoding: "utf8", timeout: 60_000 });
}

const promtoolFound = !promtool("--version").error;
if (!promtoolFound && !process.env.CI) {
  console.warn(`alert-rules.test.ts: ${PROMTOOL} not found, promtool tests skipped (in CI they fail)`);
}

/** Every series name GET /metrics serves (histograms as their _bucket, _count and _sum series). */
const metrics = await registry.getMetricsAsJSON();
const exported = new Set(
  metrics.flatMap((m) => (String(m.type) === "histogram" ? [`${m.name}_bucket`, `${m.name}_count`, `${m.name}_sum`] : [m.name])),
);
/** Metric names as people write them in prose (a histogram by its family name). */
const families = new Set(metrics.map((m) => m.name));

/** The PromQL of each rule: `expr: <line>`, or `expr: |` and the lines indented under it. */
function ruleExpressions(rulesYaml: string): string[] {
  return [...rulesYaml.matchAll(/^( *)expr: (?:\|\n((?:\1 +.*\n)+)|(.+))/gm)].map((m) => m[2] ?? m[3]);
}

describe.skipIf(!promtoolFound && !process.env.CI)("alert rules under promtool", () => {
  it("promtool is installed (.ci/install-debian-packages.sh installs it)", () => {
    expect(promtoolFound, `${PROMTOOL} not found`).toBe(true);
  });

  it("when promtool checks the rules file, then it is valid", () => {
    const run = promtool("check", "rules", RULES);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("when promtool runs the rules' unit tests, then every case passes", () => {
    const run = promtool("test", "rules", RULE_TESTS);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain("SUCCESS");
  });
});

describe("alert rules and dashboard: coverage and series names", () => {
  const rules = fs.readFileSync(RULES, "utf8");
  const ruleTests = fs.readFileSync(RULE_TESTS, "utf8");
  const alerts = [...rules.matchAll(/^\s*- alert: (\w+)$/gm)].map((m) => m[1]);

  it("when the rule tests are read, then every alert has a case where it fires and one where it must not, and no case names an unknown alert", () => {
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    // Each check: `alertname: X` followed by `exp_alerts: []` (quiet) or a list of expected alerts (fires).
    const checks = [...ruleTests.matchAll(/alertname: (\w+)\s*\n\s*exp_alerts:( \[\])?/g)].map((m) => ({
      alert: m[1],
      fires: m[2] === undefined,
    }));
    // (An unknown name would pass with exp_alerts: [] and test nothing.)
    expect(checks.map((c) => c.alert).filter((a) => !alerts.includes(a))).toEqual([]);
    for (const alert of alerts) {
      expect(
        checks.some((c) => c.alert === alert && c.fires),
        `${alert} has no firing case`,
      ).toBe(true);
      expect(
        checks.some((c) => c.alert === alert && !c.fires),
        `${alert} has no quiet case`,
      ).toBe(true);
    }
  });

  const seriesIn = (text: string) => new Set([...text.matchAll(/\b(?:orderlock|process|nodejs)_[a-z0-9_]+/g)].map((m) => m[0]));
  const unknown = (names: Set<string>, known = exported) => [...names].filter((n) => !known.has(n) && !ANNOUNCED_SERIES.includes(n));

  it("when the registry is read, then the check below sees real names (and the announced series are not yet among them, or are real)", () => {
    expect(exported.has("orderlock_http_request_duration_seconds_bucket")).toBe(true);
    expect(exported.has("orderlock_purchase_counter_drift")).toBe(true);
    expect(exported.has("orderlock_no_such_series")).toBe(false);
  });

  it("when a rule queries a series, then /metrics exports it or it is one of the announced two", () => {
    const exprs = ruleExpressions(rules);
    expect(exprs).toHaveLength(alerts.length);
    for (const expr of exprs) {
      const named = seriesIn(expr);
      expect(named.size, `no series in: ${expr}`).toBeGreaterThan(0);
      expect(unknown(named), expr).toEqual([]);
    }
    // Prose (comments, annotations) may name a histogram by its family.
    expect(unknown(seriesIn(rules), new Set([...exported, ...families]))).toEqual([]);
  });

  it("when the dashboard is read, then it is valid JSON whose every query names only exported or announced series", () => {
    const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, "utf8")) as {
      uid: string;
      panels: { id: number; type: string; targets?: { expr: string }[]; gridPos: { x: number; w: number } }[];
    };
    expect(dashboard.uid).toBe("orderlock-overview");
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(15);
    for (const expr of exprs) {
      const named = seriesIn(expr);
      expect(named.size, `no series in: ${expr}`).toBeGreaterThan(0);
      expect(unknown(named), expr).toEqual([]);
    }
  });
});
