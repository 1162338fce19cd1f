import { buildApp } from "./app.js";
import { startBackgroundJobs } from "./background-jobs.js";
import { loadConfig } from "./config.js";
import { openDatabase } from "./db/open-database.js";
import { startWebhookRelay } from "./events/start-webhook-relay.js";
import { createHttpServer } from "./http/server.js";
import { createLogger } from "./logger.js";

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
  const webhookUrlPolicy = { allowInsecure: config.webhooks.allowInsecureUrls, allowPrivate: config.webhooks.allowPrivateUrls };
  let boundPort = config.port; // PORT=0 binds an ephemeral port, known after listen()
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
    selfBaseUrl: () => `http://127.0.0.1:${boundPort}`,
    webhooks: { policy: webhookUrlPolicy, retryHours: config.webhooks.retryHours },
  });
  const server = createHttpServer(app);
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10000;
  server.requestTimeout = 30000;
  const jobs = startBackgroundJobs(db.ds, config, logger);
  const relay = startWebhookRelay(db.ds, {
    serviceSecret: db.webhookSecret,
    policy: webhookUrlPolicy,
    retryDelaysMs: config.webhooks.retryDelaysMs,
    retryHours: config.webhooks.retryHours,
    timeoutMs: config.webhooks.timeoutMs,
    concurrency: config.webhooks.concurrency,
    intervalMs: config.webhooks.relayIntervalMs,
    logger,
  });

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
    await Promise.all([jobs.stop(), relay.stop()]);
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
