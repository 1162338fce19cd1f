import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { tracingRequested } from "../../src/tracing.js";
import { newServiceConfig, removeDataDir, SERVICE_ADMIN_KEY, startService } from "../support/service-process.js";

/**
 * Tracing from the process's point of view, on the production build: off,
 * nothing of the OpenTelemetry SDK is loaded (only the no-op API, which
 * prom-client loads anyway and the batcher calls); on (OTEL_TRACES_EXPORTER=console), the service started as
 * production starts it traces an order from the HTTP span through express
 * and the batch down to PostgreSQL.
 */
const DIST = path.resolve("dist/src");

describe("tracing switch", () => {
  it("when OTEL_TRACES_EXPORTER names an exporter, then tracing is on; unset, empty, none or OTEL_SDK_DISABLED=true, off", () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: "" })).toBe(false);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: "none" })).toBe(false);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: "otlp,none" })).toBe(false);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: "otlp", OTEL_SDK_DISABLED: "true" })).toBe(false);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: "otlp" })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: "console" })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: "otlp", OTEL_SDK_DISABLED: "false" })).toBe(true);
  });

  /** In a fresh process: the tracing switch, then the whole app; which OpenTelemetry packages got loaded. */
  function otelPackagesLoaded(env: Record<string, string>): string[] {
    if (!fs.existsSync(path.join(DIST, "main.js"))) throw new Error("dist/ is missing: run `npm run build` (npm test does)");
    const url = (file: string) => JSON.stringify(pathToFileURL(path.join(DIST, file)).href);
    const script = `
      import { createRequire } from "node:module";
      const { startTracingIfRequested } = await import(${url("tracing.js")});
      const stop = await startTracingIfRequested();
      await Promise.all([import(${url("app.js")}), import(${url("background-jobs.js")}), import(${url("db/open-database.js")}), import(${url("http/server.js")})]);
      const packages = new Set(Object.keys(createRequire(import.meta.url).cache).map((f) => /node_modules\\/(@opentelemetry\\/[^/]+)\\//.exec(f)?.[1]).filter(Boolean));
      process.stderr.write(JSON.stringify([...packages].sort()));
      await stop?.();
    `;
    const { OTEL_TRACES_EXPORTER: _unset, ...inherited } = process.env;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      env: { ...inherited, ...env },
      timeout: 60_000,
    });
    if (child.status !== 0) throw new Error(`child failed (${child.status}): ${child.stderr}`);
    return JSON.parse(child.stderr.trim().split("\n").at(-1)!) as string[];
  }

  it("when tracing is off, then the SDK and instrumentations are never loaded, only the no-op API (prom-client loads it anyway)", () => {
    expect(otelPackagesLoaded({})).toEqual(["@opentelemetry/api"]);
  });

  it("when tracing is on, then the SDK and the http, express and pg instrumentations are loaded (the check above can see them)", () => {
    const loaded = otelPackagesLoaded({ OTEL_TRACES_EXPORTER: "console" });
    expect(loaded).toEqual(
      expect.arrayContaining([
        "@opentelemetry/api",
        "@opentelemetry/sdk-node",
        "@opentelemetry/instrumentation-http",
        "@opentelemetry/instrumentation-express",
        "@opentelemetry/instrumentation-pg",
      ]),
    );
  });
});

type PrintedSpan = { traceId: string; id: string; parentId?: string; name: string };

/** The console exporter prints each span with util.inspect; its top-level fields are at two spaces. */
function printedSpans(output: string): PrintedSpan[] {
  return output
    .split(/^\{$/m)
    .slice(1)
    .map((block) => ({
      traceId: /^ {2}traceId: '(\w+)'/m.exec(block)?.[1] ?? "",
      id: /^ {2}id: '(\w+)'/m.exec(block)?.[1] ?? "",
      parentId: /^ {2}parentSpanContext: \{\n {4}traceId: '\w+',\n {4}spanId: '(\w+)'/m.exec(block)?.[1],
      name: /^ {2}name: '(.*)',$/m.exec(block)?.[1] ?? "",
    }))
    .filter((s) => s.traceId && s.id);
}

describe("tracing in the built service", () => {
  it("when the service runs with OTEL_TRACES_EXPORTER=console, then an order is one trace: HTTP, express, batch, PostgreSQL", async () => {
    const cfg = await newServiceConfig({ OTEL_TRACES_EXPORTER: "console", OTEL_SERVICE_NAME: "orderlock-test" });
    const service = await startService(cfg);
    try {
      const admin = { Authorization: `Bearer ${SERVICE_ADMIN_KEY}`, "Content-Type": "application/json" };
      const product = await fetch(`${service.url}/v1/products`, {
        method: "POST",
        headers: admin,
        body: JSON.stringify({ sku: "TRACE-1", name: "Traced", priceCents: 500, onHand: 3 }),
      });
      expect(product.status).toBe(201);
      const customer = await fetch(`${service.url}/v1/customers`, {
        method: "POST",
        headers: admin,
        body: JSON.stringify({ name: "Tracy" }),
      });
      const { apiKey } = (await customer.json()) as { apiKey: string };
      const order = await fetch(`${service.url}/v1/orders`, {
        method: "POST",
        headers: { Authorization: `Bearer ${apiKey}`, "Idempotency-Key": "trace-order-1", "Content-Type": "application/json" },
        body: JSON.stringify({ lines: [{ sku: "TRACE-1", quantity: 1 }] }),
      });
      expect(order.status).toBe(201);
    } finally {
      expect(await service.stop()).toBe(0); // SIGTERM flushes the spans
      removeDataDir(cfg.dataDir);
    }

    const output = service.output();
    expect(output).toContain("'service.name': 'orderlock-test'");
    const spans = printedSpans(output);
    const server = spans.find((s) => s.name === "POST /v1/orders");
    expect(server, `spans: ${spans.map((s) => s.name).join(", ")}`).toBeDefined();
    const trace = spans.filter((s) => s.traceId === server!.traceId);
    const byId = new Map(trace.map((s) => [s.id, s]));
    const rootOf = (s: PrintedSpan) => {
      const names = [s.name];
      for (let p = s.parentId && byId.get(s.parentId); p; p = p.parentId ? byId.get(p.parentId) : undefined) names.push(p.name);
      return names;
    };
    expect(trace.some((s) => /^request handler/.test(s.name))).toBe(true); // express
    const placeSql = trace.filter((s) => s.name.startsWith("pg.query:SELECT")).map(rootOf);
    expect(placeSql.some((chain) => chain.includes("orderlock.batch") && chain.at(-1) === "POST /v1/orders")).toBe(true);
    // Probes and scrapes are not traced (startService polled /readyz).
    expect(spans.some((s) => /readyz|healthz|metrics/.test(s.name))).toBe(false);
  });
});
