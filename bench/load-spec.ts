/**
 * What the bench asks of the load worker (written to its stdin as JSON) and
 * what the worker answers (printed as one JSON line). Plain data only: the
 * per-request logic (unique keys, signatures) lives in the worker.
 */
export type OrdersTarget = {
  kind: "orders";
  /** Customer API keys; each request picks one at random. */
  customerKeys: string[];
  /** Each request orders one unit of a SKU drawn uniformly from this list. */
  skus: string[];
};

export type WebhooksTarget = {
  kind: "webhooks";
  webhookSecret: string;
  /** Pending payments; each gets exactly one success event, in order. */
  payments: { id: string; amountCents: number }[];
};

/**
 * A flash sale (bench/flash.ts): orders for one unit of `sku`, which holds
 * `units`, each with a random customer's key and a fresh Idempotency-Key. The
 * load generator times the sellout (the `units`-th 201) and the answers to
 * requests sent after it.
 */
export type FlashTarget = {
  kind: "flash";
  customerKeys: string[];
  sku: string;
  units: number;
};

export type LoadSpec = {
  url: string;
  connections: number;
  durationSeconds: number;
  target: OrdersTarget | WebhooksTarget | FlashTarget;
};

/**
 * What a flash-sale load saw. Each request carries its send time in
 * X-Request-Id, which the service echoes, so every answer's latency is known
 * with the answer.
 */
export type SaleTally = {
  /** From the first request sent to the answer of the `units`-th 201, ms; null if fewer were placed. */
  selloutMs: number | null;
  /** Every answer, by HTTP status. */
  statuses: Record<string, number>;
  /** The answers other than 201 to requests sent after the sellout, and their latency (ms). */
  afterSellout: { answers: number; p50Ms: number; p99Ms: number; maxMs: number };
};

export type LoadResult = {
  /** Responses received (autocannon counts a request once its response is complete). */
  responses: number;
  durationSeconds: number;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyP999Ms: number;
  latencyMeanMs: number;
  latencyMaxMs: number;
  non2xx: number;
  timeouts: number;
  /** Connection errors, timeouts included. */
  connectionErrors: number;
  /** "<status> <problem code>" → count, for every non-2xx answer. */
  problems: Record<string, number>;
  /** Orders: 201 Created. */
  created: number;
  /** Orders: 409 out_of_stock. */
  outOfStock: number;
  /** Webhooks: `outcome` of each 200 answer (processed, duplicate, ignored). */
  webhookOutcomes: Record<string, number>;
  /** Webhooks: the prepared payments ran out before the duration was up. */
  exhausted: boolean;
  /** Flash sale only. */
  sale?: SaleTally;
};
