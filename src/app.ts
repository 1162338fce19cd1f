import express, { type Express } from "express";
import helmet from "helmet";
import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import "./http/request-context.js";
import { createKeyAuthenticator } from "./customers/authenticate.js";
import { classifyError } from "./db/postgres-errors.js";
import { primaryOnly, type ReadReplica } from "./db/read-replica.js";
import { onRetry } from "./db/with-retry.js";
import { requireApiKey } from "./http/authenticate.js";
import { parseJsonBody } from "./http/body-parsing.js";
import { commandHandler } from "./http/command.js";
import { observeRequests } from "./http/observability.js";
import { notFoundHandler, problemHandler } from "./http/problem.js";
import { rateLimitPerCustomer } from "./http/rate-limit.js";
import { customersRouter } from "./http/routes/customers.js";
import { dashboardRouter } from "./http/routes/dashboard.js";
import { docsRouter } from "./http/routes/docs.js";
import { eventsRouter } from "./http/routes/events.js";
import { opsRouter } from "./http/routes/ops.js";
import { ordersRouter, placeOrderRouter } from "./http/routes/orders.js";
import { paymentsRouter } from "./http/routes/payments.js";
import { productsRouter } from "./http/routes/products.js";
import { purchaseMetricsRouter } from "./http/routes/purchase-metrics.js";
import { refundsRouter } from "./http/routes/refunds.js";
import { sandboxRouter } from "./http/routes/sandbox.js";
import { type WebhookSettings, webhookEndpointsRouter } from "./http/routes/webhook-endpoints.js";
import { webhooksRouter } from "./http/routes/webhooks.js";
import { concurrencyMetrics } from "./metrics/registry.js";
import type { PaymentProvider } from "./payments/providers/payment-provider.js";
import { createSandboxProvider, type SandboxProvider } from "./payments/providers/sandbox-provider.js";
import type { StripeRefundSink } from "./payments/receive-stripe-event.js";
import { stripeRefundSinkFor } from "./payments/stripe-refund-sink.js";

export type AppDeps = {
  ds: DataSource;
  logger: Logger;
  adminApiKey: string;
  webhookSecret: string;
  currency: string;
  reservationTtlSeconds: number;
  /** A pending payment expires this long after it was created (and its order with it). */
  paymentTtlSeconds: number;
  idempotencyTtlHours: number;
  rateLimitPerMinute: number;
  /** Most units of one SKU one customer may hold reserved at once; 0 = no cap. */
  maxUnitsPerCustomerSku: number;
  /**
   * The service's own base URL (e.g. http://127.0.0.1:3000), where the sandbox
   * payment provider delivers its webhooks. A function, because the port may
   * be known only after listen(). Unset: the sandbox cannot deliver.
   */
  selfBaseUrl?: () => string;
  /** Where purchase-metrics reads go (DATABASE_REPLICA_URL while fresh); unset: the primary. */
  readReplica?: ReadReplica;
  /** Outgoing webhooks: the SSRF policy on endpoint URLs (default: https, public addresses only) and the retry window. */
  webhooks?: WebhookSettings;
  /** The payment provider, shared with the background jobs (main.ts); unset → a sandbox provider of the app's own. */
  provider?: SandboxProvider;
  /** The provider new payments are created with (PAYMENT_PROVIDER); default: the built-in sandbox. */
  paymentProvider?: PaymentProvider;
  /** How long one caller holds the call that creates a provider payment (default 60 s). */
  providerCallLeaseSeconds?: number;
  /** STRIPE_WEBHOOK_SECRET, split (rotation); unset: POST /v1/webhooks/stripe answers every event 401. */
  stripeWebhookSecrets?: string[];
  /** Where Stripe's refund and dispute events go (the refund use cases); unset: answered `ignored`, logged. */
  stripeRefundSink?: StripeRefundSink;
};

export const DEFAULT_PROVIDER_CALL_LEASE_SECONDS = 60;

/** The built-in sandbox provider, delivering its webhooks to `selfBaseUrl`. */
export function sandboxProviderFor(deps: Pick<AppDeps, "selfBaseUrl" | "webhookSecret" | "logger">): SandboxProvider {
  return createSandboxProvider({
    selfBaseUrl:
      deps.selfBaseUrl ??
      (() => {
        throw new Error("selfBaseUrl is not configured: the sandbox provider cannot deliver webhooks");
      }),
    webhookSecret: deps.webhookSecret,
    logger: deps.logger,
  });
}

/** The Express app without listen(): main.ts serves it, tests drive it with supertest. */
export function buildApp(deps: AppDeps): Express {
  onRetry(({ error }) => {
    const kind = classifyError(error);
    concurrencyMetrics.retries.inc({ cause: kind === "other" ? "internal_conflict" : kind });
  });
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false); // our ETags are resource versions, not body hashes
  app.set("query parser", "simple");

  // Security headers on every response, errors included. `upgrade-insecure-requests`
  // is left out: the service is often reached over plain HTTP on localhost.
  app.use(
    helmet({
      contentSecurityPolicy: { directives: { "default-src": ["'self'"], "upgrade-insecure-requests": null } },
    }),
  );

  app.use(observeRequests(app, deps.logger));
  app.use(opsRouter(deps.ds));
  app.use(dashboardRouter(deps.currency));
  app.use(docsRouter());
  app.use(parseJsonBody);
  const sandbox = deps.provider ?? sandboxProviderFor(deps);
  const paymentProvider = deps.paymentProvider ?? sandbox;
  // Authenticated by the provider's signature, not a Bearer key: mounted before the key check.
  app.use(
    webhooksRouter(deps.ds, {
      ...deps,
      provider: paymentProvider,
      stripeRefundSink: deps.stripeRefundSink ?? stripeRefundSinkFor(deps.ds),
    }),
  );

  const run = commandHandler(deps.ds, deps.idempotencyTtlHours);
  // Each app instance has its own key cache: it learns of revocations by expiry (src/customers/authenticate.ts).
  const authenticate = createKeyAuthenticator(deps.ds, deps.adminApiKey, deps.logger);
  const orderPolicy = {
    reservationTtlSeconds: deps.reservationTtlSeconds,
    maxUnitsPerCustomerSku: deps.maxUnitsPerCustomerSku,
    rateLimitPerMinute: deps.rateLimitPerMinute,
    idempotencyTtlHours: deps.idempotencyTtlHours,
  };
  app.use("/v1", requireApiKey(authenticate));
  // Placing an order counts its request in the order's own database call: before the middleware that counts every other request.
  app.use(placeOrderRouter(deps.ds, orderPolicy));
  app.use("/v1", rateLimitPerCustomer(deps.ds, deps.rateLimitPerMinute));
  // The routers' paths do not overlap, so their order is only speed: the
  // hottest first (a request walks the routes of every router before its own).
  app.use(ordersRouter(deps.ds, run, orderPolicy));
  app.use(customersRouter(deps.ds, run));
  app.use(productsRouter(deps.ds, run));
  app.use(
    paymentsRouter(deps.ds, run, {
      currency: deps.currency,
      provider: paymentProvider,
      paymentTtlSeconds: deps.paymentTtlSeconds,
      providerCallLeaseSeconds: deps.providerCallLeaseSeconds ?? DEFAULT_PROVIDER_CALL_LEASE_SECONDS,
      logger: deps.logger,
    }),
  );
  app.use(refundsRouter(deps.ds, run, { provider: paymentProvider, logger: deps.logger }));
  app.use(sandboxRouter(run, sandbox));
  app.use(purchaseMetricsRouter(deps.ds, deps.readReplica ?? primaryOnly(deps.ds)));
  app.use(eventsRouter(deps.ds));
  app.use(
    webhookEndpointsRouter(deps.ds, run, {
      webhookSecret: deps.webhookSecret,
      webhooks: deps.webhooks ?? { policy: { allowInsecure: false, allowPrivate: false }, retryHours: 24 },
    }),
  );

  app.use(notFoundHandler);
  app.use(problemHandler(deps.logger));
  return app;
}
