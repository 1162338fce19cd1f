import { type Context, context, isSpanContextValid, type Link, SpanStatusCode, trace } from "@opentelemetry/api";

/**
 * Tracing for the batcher (src/db/batcher.ts): one database call serves the
 * requests of a batch, so its span LINKS to each request's span, and its
 * parent is the first request's (a lone request, the common case under light
 * load, then reads as one trace from HTTP down to PostgreSQL; the others
 * reach the batch through their link).
 *
 * Only @opentelemetry/api (which prom-client loads anyway): with no SDK
 * registered the active context is always the root one, so there is nothing
 * to link, no span is made, and each call is a few no-op function calls.
 */
const tracer = trace.getTracer("orderlock");

export type TraceContext = Context;

/** The caller's trace context, captured when it submits an item. */
export function callerTraceContext(): TraceContext {
  return context.active();
}

/** Runs a batch inside a span linked to the trace contexts its items were submitted in. */
export function inBatchSpan<T>(items: readonly { traceContext: TraceContext }[], run: () => Promise<T>): Promise<T> {
  const links: Link[] = [];
  for (const { traceContext } of items) {
    const span = trace.getSpanContext(traceContext);
    if (span && isSpanContextValid(span)) links.push({ context: span });
  }
  const parent = items[0]?.traceContext ?? context.active();
  if (links.length === 0) return context.with(parent, run);
  return tracer.startActiveSpan(
    "orderlock.batch",
    { links, attributes: { "orderlock.batch.size": items.length } },
    parent,
    async (span) => {
      try {
        return await run();
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
