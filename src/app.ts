import express, { type Express } from "express";
import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import "./http/request-context.js";
import { parseJsonBody } from "./http/body-parsing.js";
import { requireApiKey } from "./http/authenticate.js";
import { commandHandler } from "./http/command.js";
import { requestLogging, requestMetrics } from "./http/observability.js";
import { notFoundHandler, problemHandler } from "./http/problem.js";
import { customersRouter } from "./http/routes/customers.js";
import { opsRouter } from "./http/routes/ops.js";
import { ordersRouter } from "./http/routes/orders.js";
import { productsRouter } from "./http/routes/products.js";
import { classifyError } from "./db/postgres-errors.js";
import { onRetry } from "./db/with-retry.js";
import { concurrencyMetrics } from "./metrics/registry.js";

export type AppDeps = {
  ds: DataSource;
  logger: Logger;
  adminApiKey: string;
  webhookSecret: string;
  currency: string;
  reservationTtlSeconds: number;
  idempotencyTtlHours: number;
};

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

  app.use(requestLogging(deps.logger));
  app.use(requestMetrics);
  app.use(opsRouter(deps.ds));
  app.use(parseJsonBody);

  const run = commandHandler(deps.ds, deps.idempotencyTtlHours);
  app.use("/v1", requireApiKey(deps.ds, deps.adminApiKey));
  app.use(customersRouter(run));
  app.use(productsRouter(deps.ds, run));
  app.use(ordersRouter(deps.ds, run, deps.reservationTtlSeconds));

  app.use(notFoundHandler);
  app.use(problemHandler(deps.logger));
  return app;
}
