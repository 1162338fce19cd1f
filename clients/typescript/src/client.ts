import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./generated/openapi.js";
import { isProblem, ProblemError } from "./problems.js";
import { retryingFetch, type TransportOptions } from "./retrying-fetch.js";

type Schemas = components["schemas"];
export type Product = Schemas["Product"];
export type Order = Schemas["Order"];
export type Payment = Schemas["Payment"];
export type CustomerWithKey = Schemas["CustomerWithKey"];
export type OrderLine = { sku: string; quantity: number };

export type OrderlockClientOptions = TransportOptions & {
  /** e.g. http://127.0.0.1:3000 */
  baseUrl: string;
  /** The admin key or a customer key: sent as `Authorization: Bearer <apiKey>`. */
  apiKey: string;
};

export type WithVersionOptions = {
  /** Reads and changes in all, the first included. Default 5. */
  maxAttempts?: number;
};

/** What a call's result resolves to, or the ProblemError it throws. */
async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw ProblemError.from(response, error);
  return data as T;
}

const ifMatch = (version: number) => `"${version}"`;

/**
 * The orderlock client: `api` is the generated, fully typed openapi-fetch
 * client for every operation; the methods below are the common calls with
 * their answers unwrapped (a non-2xx answer throws a ProblemError). Both go
 * through the same transport: automatic Idempotency-Keys, safe retries
 * (see retrying-fetch.ts).
 */
export function createOrderlockClient(options: OrderlockClientOptions) {
  const newIdempotencyKey = options.newIdempotencyKey ?? (() => `olc-${globalThis.crypto.randomUUID()}`);
  const api: Client<paths> = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    headers: { Authorization: `Bearer ${options.apiKey}` },
    fetch: retryingFetch({ ...options, newIdempotencyKey }),
  });

  return {
    api,

    /**
     * Runs `change` on what `read` returns; when the service answers 409
     * version_conflict (someone changed it in between), reads again and
     * re-applies `change` to the fresh state, at most maxAttempts times in
     * all. `change` must derive its edit from the state it is given, since it
     * may run several times. Any other error is thrown at once.
     */
    async withVersion<T extends { version: number }, R>(
      read: () => Promise<T>,
      change: (current: T) => Promise<R>,
      { maxAttempts = 5 }: WithVersionOptions = {},
    ): Promise<R> {
      for (let attempt = 1; ; attempt++) {
        const current = await read();
        try {
          return await change(current);
        } catch (error) {
          if (!isProblem(error, "version_conflict") || attempt >= maxAttempts) throw error;
        }
      }
    },

    createCustomer: (name: string) => unwrap(api.POST("/v1/customers", { body: { name } })),

    createProduct: (product: { sku: string; name: string; priceCents: number; onHand: number }) =>
      unwrap(api.POST("/v1/products", { body: product })),

    getProduct: (sku: string) => unwrap(api.GET("/v1/products/{sku}", { params: { path: { sku } } })),

    /** A versioned edit: `version` is the one you read (sent as If-Match). */
    updateProduct: (sku: string, version: number, changes: { name?: string; priceCents?: number }) =>
      unwrap(api.PATCH("/v1/products/{sku}", { params: { path: { sku }, header: { "If-Match": ifMatch(version) } }, body: changes })),

    adjustStock: (sku: string, delta: number, reason: string) =>
      unwrap(api.POST("/v1/products/{sku}/stock-adjustments", { params: { path: { sku } }, body: { delta, reason } })),

    /** All lines reserved or none (409 out_of_stock, never retried). Pass your own key to retry across restarts. */
    placeOrder: (lines: OrderLine[], { idempotencyKey = newIdempotencyKey() }: { idempotencyKey?: string } = {}) =>
      unwrap(api.POST("/v1/orders", { params: { header: { "Idempotency-Key": idempotencyKey } }, body: { lines } })),

    getOrder: (id: string) => unwrap(api.GET("/v1/orders/{id}", { params: { path: { id } } })),

    listOrders: (query: { status?: Order["status"]; limit?: number; cursor?: string } = {}) =>
      unwrap(api.GET("/v1/orders", { params: { query } })),

    /** A versioned edit of a reserved order's lines. */
    changeOrder: (id: string, version: number, lines: OrderLine[]) =>
      unwrap(api.PATCH("/v1/orders/{id}", { params: { path: { id }, header: { "If-Match": ifMatch(version) } }, body: { lines } })),

    cancelOrder: (id: string) => unwrap(api.POST("/v1/orders/{id}/cancel", { params: { path: { id } }, body: {} })),

    createPayment: (orderId: string, { idempotencyKey = newIdempotencyKey() }: { idempotencyKey?: string } = {}) =>
      unwrap(
        api.POST("/v1/orders/{id}/payments", {
          params: { path: { id: orderId }, header: { "Idempotency-Key": idempotencyKey } },
          body: {},
        }),
      ),

    getPayment: (id: string) => unwrap(api.GET("/v1/payments/{id}", { params: { path: { id } } })),
  };
}

export type OrderlockClient = ReturnType<typeof createOrderlockClient>;
