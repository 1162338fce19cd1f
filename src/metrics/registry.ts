import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * The Prometheus registry behind GET /metrics. Process-wide: counters are
 * about this process; each instance exports its own and Prometheus sums them.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const httpMetrics = {
  duration: new Histogram({
    name: "orderlock_http_request_duration_seconds",
    help: "HTTP request latency by route and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  }),
  inFlight: new Gauge({
    name: "orderlock_http_requests_in_flight",
    help: "HTTP requests received and not yet answered (or hung up on)",
    registers: [registry],
  }),
};

export const concurrencyMetrics = {
  versionConflicts: new Counter({
    name: "orderlock_version_conflicts_total",
    help: "Compare-and-swap losses: source=client (answered 409) or internal (retried)",
    labelNames: ["resource", "source"] as const,
    registers: [registry],
  }),
  retries: new Counter({
    name: "orderlock_transaction_retries_total",
    help: "Whole-transaction retries, by cause",
    labelNames: ["cause"] as const,
    registers: [registry],
  }),
  lockWait: new Histogram({
    name: "orderlock_lock_wait_seconds",
    help: "Time spent acquiring FOR UPDATE row locks on hot paths",
    labelNames: ["path"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers: [registry],
  }),
};

export const idempotencyMetrics = {
  replays: new Counter({
    name: "orderlock_idempotent_replays_total",
    help: "Requests answered from a stored Idempotency-Key response",
    registers: [registry],
  }),
  inUse: new Counter({
    name: "orderlock_idempotency_key_in_use_total",
    help: "Requests rejected because their Idempotency-Key was still being processed",
    registers: [registry],
  }),
};

export const paymentMetrics = {
  webhookEvents: new Counter({
    name: "orderlock_webhook_events_total",
    help: "Payment webhook deliveries by outcome: processed, duplicate, ignored, invalid_signature",
    labelNames: ["outcome"] as const,
    registers: [registry],
  }),
  purchaseCounterIncrements: new Counter({
    name: "orderlock_purchase_counter_increments_total",
    help: "Succeeded payments that moved the purchase counters (at most once per payment)",
    registers: [registry],
  }),
  purchaseCounterDrift: new Gauge({
    name: "orderlock_purchase_counter_drift",
    help: "Purchase counters minus the raw succeeded payments, as of the last reconciliation (should be 0)",
    labelNames: ["measure"] as const,
    registers: [registry],
  }),
};

// Every outcome is exported from the start (as 0), so rates and alerts work before the first event.
for (const outcome of ["processed", "duplicate", "ignored", "invalid_signature"]) paymentMetrics.webhookEvents.labels({ outcome }).inc(0);

export const replicaMetrics = {
  lagSeconds: new Gauge({
    name: "orderlock_replica_lag_seconds",
    help: "Replication lag of DATABASE_REPLICA_URL as of the last probe (0 when caught up; NaN when it did not answer)",
    registers: [registry],
  }),
  up: new Gauge({
    name: "orderlock_replica_up",
    help: "1 while the replica answers its probe and is under REPLICA_MAX_LAG_SECONDS (its reads go there), else 0",
    registers: [registry],
  }),
  reads: new Counter({
    name: "orderlock_replica_eligible_reads_total",
    help: "Reads that may be served by the replica (purchase metrics), by the server that served them: replica or primary",
    labelNames: ["source"] as const,
    registers: [registry],
  }),
};
for (const source of ["replica", "primary"]) replicaMetrics.reads.labels({ source }).inc(0);
export const webhookMetrics = {
  deliveries: new Counter({
    name: "orderlock_webhook_deliveries_total",
    help: "Outgoing webhook attempts by outcome: delivered, failed (will be retried), abandoned (out of time)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  }),
};
for (const outcome of ["delivered", "failed", "abandoned"]) webhookMetrics.deliveries.labels({ outcome }).inc(0);
