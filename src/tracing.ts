/**
 * OpenTelemetry tracing, off unless the standard variables ask for it:
 * OTEL_TRACES_EXPORTER names an exporter (otlp, console, zipkin) and
 * OTEL_SDK_DISABLED is not "true". The SDK then reads every other OTEL_*
 * variable itself (endpoint, headers, sampler, service name, ...).
 *
 * This module imports nothing of OpenTelemetry: when tracing is off the SDK
 * and its instrumentations are never loaded. When it is on, they must be
 * started before express, http and pg are first imported, so main.ts
 * awaits this before it imports the rest of the service.
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "")
    .split(",")
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean);
  return exporters.length > 0 && !exporters.includes("none");
}

/** Starts tracing when requested; returns what flushes and stops it (undefined when off). */
export async function startTracingIfRequested(env: NodeJS.ProcessEnv = process.env): Promise<(() => Promise<void>) | undefined> {
  if (!tracingRequested(env)) return undefined;
  const { startTracing } = await import("./tracing/start-tracing.js");
  return startTracing();
}
