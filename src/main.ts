import { loadConfig } from "./config.js";
import { chooseLogFormat, createLogger } from "./logger.js";
import { startTracingIfRequested } from "./tracing.js";

/**
 * Process entry: config → database (embedded or DATABASE_URL) → migrations →
 * listen → graceful stop. SIGTERM/SIGINT: stop accepting, let in-flight
 * requests finish (bounded by SHUTDOWN_GRACE_MS), stop background jobs, let
 * the database work of requests already accepted finish (same bound), close
 * the pool, stop the embedded database last, exit 0.
 *
 * Tracing (off unless OTEL_TRACES_EXPORTER is set) must instrument http,
 * express and pg before they are first imported: hence the static imports
 * above are only config, logger and the tracing switch, and the rest of the
 * service is imported after it.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = await createLogger(config.logLevel, chooseLogFormat(config.logFormat, Boolean(process.stdout.isTTY)));
  const stopTracing = await startTracingIfRequested();
  if (stopTracing) logger.info({ exporter: process.env.OTEL_TRACES_EXPORTER }, "OpenTelemetry tracing on");
  // Everything that loads express or pg comes after tracing has started (its hooks patch them on load).
  const [
    { buildApp, sandboxProviderFor },
    { startBackgroundJobs },
    { openDatabase },
    { createHttpServer },
    { startReadReplica },
    { startDraining },
    { startWebhookRelay },
    { settleInFlightWork },
  ] = await Promise.all([
    import("./app.js"),
    import("./background-jobs.js"),
    import("./db/open-database.js"),
    import("./http/server.js"),
    import("./db/read-replica.js"),
    import("./http/draining.js"),
    import("./events/start-webhook-relay.js"),
    import("./db/settle-in-flight-work.js"),
  ]);
  const db = await openDatabase(config, logger);
  const readReplica = startReadReplica({
    primary: db.ds,
    url: config.replicaUrl,
    maxLagSeconds: config.replicaMaxLagSeconds,
    db: config.db,
    logger,
  });
  const webhookUrlPolicy = { allowInsecure: config.webhooks.allowInsecureUrls, allowPrivate: config.webhooks.allowPrivateUrls };
  let boundPort = config.port; // PORT=0 binds an ephemeral port, known after listen()
  const selfBaseUrl = () => `http://127.0.0.1:${boundPort}`;
  const sandbox = sandboxProviderFor({ selfBaseUrl, webhookSecret: db.webhookSecret, logger });
  // loadConfig has checked that PAYMENT_PROVIDER=stripe comes with its keys.
  const { createStripeProvider } = await import("./payments/providers/stripe-provider.js");
  const paymentProvider = config.paymentProvider === "stripe" && config.stripe ? createStripeProvider(config.stripe) : sandbox;
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
    provider: sandbox,
    paymentProvider,
    providerCallLeaseSeconds: config.providerCallLeaseSeconds,
    stripeWebhookSecrets: config.stripe?.webhookSecrets,
    readReplica,
    webhooks: { policy: webhookUrlPolicy, retryHours: config.webhooks.retryHours },
  });
  const server = createHttpServer(app);
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10000;
  server.requestTimeout = 30000;
  const jobs = startBackgroundJobs(db.ds, config, logger, paymentProvider);
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
    // Out of rotation first: /readyz answers 503 and keep-alive connections
    // close after their next response, while requests still arriving are
    // served for SHUTDOWN_DRAIN_MS (set it above the balancer's health-check
    // interval × fall count); only then stop accepting.
    startDraining();
    logger.info({ signal, drainMs: config.shutdownDrainMs }, "shutting down: out of rotation, draining");
    if (config.shutdownDrainMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
    const graceDeadline = Date.now() + config.shutdownGraceMs;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref());
    await Promise.race([closed, grace]);
    server.closeAllConnections();
    await Promise.all([jobs.stop(), relay.stop()]);
    // Requests whose connection is gone may still be queued or running: let their database work finish.
    if (!(await settleInFlightWork(db.ds, graceDeadline))) logger.warn("shutdown grace over with database work still in flight");
    await readReplica.close();
    await db.close();
    await stopTracing?.().catch((err: unknown) => logger.warn({ err }, "flushing traces failed"));
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err: unknown) => {
  // A misconfiguration we can name is one sentence; anything else keeps its stack for the bug report.
  // (Compared by name: the class lives in a module loaded after tracing, see above.)
  const told = err instanceof Error && err.name === "EmbeddedPostgresUnreachableError" ? err.message : undefined;
  process.stderr.write(`orderlock failed to start: ${told ?? (err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
  process.exit(1);
});
