import { register } from "node:module";
import { ExpressInstrumentation } from "@opentelemetry/instrumentation-express";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { NodeSDK, type tracing } from "@opentelemetry/sdk-node";

/** Requests that would only fill the trace store: probes and scrapes. */
const UNTRACED_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * The OpenTelemetry Node SDK with the http, express and pg
 * instrumentations, traces only (the service's metrics are Prometheus, at
 * /metrics). Loaded only by src/tracing.ts, when tracing is requested.
 *
 * The service is ES modules, so instrumenting express and pg needs the
 * import hook of @opentelemetry/instrumentation, registered here before
 * any of them is imported (Node >= 20.6).
 *
 * pg spans need a parent: the background sweepers' queries (every
 * SWEEP_INTERVAL_MS) would otherwise each open a trace of their own.
 *
 * `spanProcessors` replaces the exporters named by OTEL_TRACES_EXPORTER
 * (tests pass an in-memory exporter).
 */
export function startTracing(options: { spanProcessors?: tracing.SpanProcessor[] } = {}): () => Promise<void> {
  register("@opentelemetry/instrumentation/hook.mjs", import.meta.url);
  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ? undefined : "orderlock",
    spanProcessors: options.spanProcessors,
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? "").split("?")[0]),
      }),
      new ExpressInstrumentation(),
      new PgInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  return () => sdk.shutdown();
}
