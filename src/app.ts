import express, { type Express } from "express";
import helmet from "helmet";
import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import "./http/request-context.js";
import { classifyError } from "./db/postgres-errors.js";
import { onRetry } from "./db/with-retry.js";
import { requireApiKey } from "./http/authenticate.js";
import { parseJsonBody } from "./http/body-parsing.js";
import { commandHandler } from "./http/command.js";
import { observeRequests } from "./http/observability.js";
import { notFoundHandler, problemHandler } from "./http/problem.js";
import { rateLimitPerCustomer } from "./http/rate-limit.js";
import { customersRouter } from "./http/routes/customers.js";
import { dashboardRouter } from "./http/routes/dashboard.js";
import { eventsRouter } from "./http/routes/events.js";
import { opsRouter } from "./http/routes/ops.js";
import { ordersRouter } from "./http/routes/orders.js";
import { paymentsRouter } from "./http/routes/payments.js";
import { productsRouter } from "./http/routes/products.js";
import { purchaseMetricsRouter } from "./http/routes/purchase-metrics.js";
import { sandboxRouter } from "./http/routes/sandbox.js";
import { webhooksRouter } from "./http/routes/webhooks.js";
import { concurrencyMetrics } from "./metrics/registry.js";
import type { PaymentProvider } from "./payments/providers/payment-provider.js";
import { createSandboxProvider } from "./payments/providers/sandbox-provider.js";
import type { StripeRefundSink } from "./payments/receive-stripe-event.js";

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
  app.use(parseJsonBody);
  // Authenticated by the provider's signature, not a Bearer key: mounted before the key check.
  app.use(webhooksRouter(deps.ds, deps));

  const run = commandHandler(deps.ds, deps.idempotencyTtlHours);
  const sandbox = createSandboxProvider({
    selfBaseUrl:
      deps.selfBaseUrl ??
      (() => {
        throw new Error("selfBaseUrl is not configured: the sandbox provider cannot deliver webhooks");
      }),
    webhookSecret: deps.webhookSecret,
    logger: deps.logger,
  });
  app.use("/v1", requireApiKey(deps.ds, deps.adminApiKey), rateLimitPerCustomer(deps.ds, deps.rateLimitPerMinute));
  app.use(customersRouter(run));
  app.use(productsRouter(deps.ds, run));
  app.use(
    ordersRouter(deps.ds, run, {
      reservationTtlSeconds: deps.reservationTtlSeconds,
      maxUnitsPerCustomerSku: deps.maxUnitsPerCustomerSku,
      idempotencyTtlHours: deps.idempotencyTtlHours,
    }),
  );
  app.use(
    paymentsRouter(deps.ds, run, {
      currency: deps.currency,
      provider: deps.paymentProvider ?? sandbox,
      paymentTtlSeconds: deps.paymentTtlSeconds,
      providerCallLeaseSeconds: deps.providerCallLeaseSeconds ?? DEFAULT_PROVIDER_CALL_LEASE_SECONDS,
      logger: deps.logger,
    }),
  );
  app.use(sandboxRouter(run, sandbox));
  app.use(purchaseMetricsRouter(deps.ds));
  app.use(eventsRouter(deps.ds));

  app.use(notFoundHandler);
  app.use(problemHandler(deps.logger));
  return app;
}
