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

export type LoadSpec = {
  url: string;
  connections: number;
  durationSeconds: number;
  target: OrdersTarget | WebhooksTarget;
};

export type LoadResult = {
  /** Responses received (autocannon counts a request once its response is complete). */
  responses: number;
  durationSeconds: number;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMeanMs: number;
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
};
