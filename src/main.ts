import { buildApp } from "./app.js";
import { startBackgroundJobs } from "./background-jobs.js";
import { loadConfig } from "./config.js";
import { openDatabase } from "./db/open-database.js";
import { createHttpServer } from "./http/server.js";
import { createLogger } from "./logger.js";
import { createSandboxProvider } from "./payments/providers/sandbox-provider.js";
import { createStripeProvider } from "./payments/providers/stripe-provider.js";

/**
 * Process entry: config → database (embedded or DATABASE_URL) → migrations →
 * listen → graceful stop. SIGTERM/SIGINT: stop accepting, let in-flight
 * requests finish (bounded by SHUTDOWN_GRACE_MS), stop background jobs, close
 * the pool, stop the embedded database last, exit 0.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const db = await openDatabase(config, logger);
  let boundPort = config.port; // PORT=0 binds an ephemeral port, known after listen()
  const selfBaseUrl = () => `http://127.0.0.1:${boundPort}`;
  // loadConfig has checked that PAYMENT_PROVIDER=stripe comes with its keys.
  const paymentProvider =
    config.paymentProvider === "stripe" && config.stripe
      ? createStripeProvider(config.stripe)
      : createSandboxProvider({ selfBaseUrl, webhookSecret: db.webhookSecret, logger });
  const app = buildApp({
    ds: db.ds,
    logger,
    adminApiKey: db.adminApiKey,
    webhookSecret: db.webhookSecret,
    currency: config.currency,
    reservationTtlSeconds: config.reservationTtlSeconds,
    paymentTtlSeconds: config.paymentTtlSeconds,
    idempotencyTtlHours: config.idempotencyTtlHours,
    rateLimitPerMinute: config.rateLimitPerMinute,
    maxUnitsPerCustomerSku: config.maxUnitsPerCustomerSku,
    selfBaseUrl,
    paymentProvider,
    providerCallLeaseSeconds: config.providerCallLeaseSeconds,
    stripeWebhookSecrets: config.stripe?.webhookSecrets,
  });
  const server = createHttpServer(app);
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10000;
  server.requestTimeout = 30000;
  const jobs = startBackgroundJobs(db.ds, config, logger, paymentProvider);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  boundPort = port;
  logger.info({ port, embedded: Boolean(db.embedded) }, `orderlock listening on http://localhost:${port}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down: draining in-flight requests");
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref());
    await Promise.race([closed, grace]);
    server.closeAllConnections();
    await jobs.stop();
    await db.close();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`orderlock failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
