import os from "node:os";
import path from "node:path";
import { z } from "zod";

/**
 * The environment, parsed once. Anything invalid stops the process at start
 * with a message naming the variable, rather than failing later at run time.
 */
const intFrom = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

const envSchema = z.object({
  PORT: intFrom(3000, 0, 65535),
  DATABASE_URL: z.string().min(1).optional(),
  DATABASE_DIRECT_URL: z.string().min(1).optional(),
  DATABASE_REPLICA_URL: z.string().min(1).optional(),
  REPLICA_MAX_LAG_SECONDS: z.coerce.number().positive().max(86400).default(5),
  DATA_DIR: z.string().min(1).default("./.orderlock"),
  EMBEDDED_PG_PORT: intFrom(54329, 1024, 65535),
  EMBEDDED_PG_MAX_CONNECTIONS: intFrom(200, 20, 10000),
  // PostgreSQL's own advice: a quarter of the memory; here at least its default 128 MB and at most 1 GB.
  EMBEDDED_PG_SHARED_BUFFERS_MB: intFrom(Math.min(1024, Math.max(128, Math.floor(os.totalmem() / 4 / 2 ** 20))), 16, 1 << 20),
  ADMIN_API_KEY: z.string().min(16).optional(),
  WEBHOOK_SECRET: z.string().min(16).optional(),
  CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .default("USD"),
  RESERVATION_TTL_SECONDS: intFrom(900, 1, 30 * 24 * 3600),
  PAYMENT_TTL_SECONDS: intFrom(1800, 1, 30 * 24 * 3600),
  // Fractions allowed (0.025 = 90 s): the bench's soak compresses days into minutes with them.
  IDEMPOTENCY_TTL_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 365)
    .default(24),
  RATE_LIMIT_PER_MINUTE: intFrom(1200, 1, 100_000_000),
  MAX_UNITS_PER_CUSTOMER_SKU: intFrom(0, 0, 1_000_000_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  LOG_FORMAT: z.enum(["json", "pretty"]).optional(),
  DB_POOL_SIZE: intFrom(10, 1, 200),
  DB_CONNECT_TIMEOUT_MS: intFrom(2000, 100, 60000),
  DB_STATEMENT_TIMEOUT_MS: intFrom(5000, 100, 600000),
  DB_LOCK_TIMEOUT_MS: intFrom(2000, 10, 600000),
  SWEEP_INTERVAL_MS: intFrom(1000, 50, 3600000),
  SHUTDOWN_GRACE_MS: intFrom(10000, 0, 600000),
  SHUTDOWN_DRAIN_MS: intFrom(0, 0, 600000),
  WEBHOOK_ALLOW_INSECURE_URLS: z.enum(["0", "1"]).default("0"),
  WEBHOOK_ALLOW_PRIVATE_URLS: z.enum(["0", "1"]).default("0"),
  WEBHOOK_RETRY_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(24),
  // Back-off after the 1st, 2nd... failed attempt (ms, comma-separated); the last repeats.
  WEBHOOK_RETRY_DELAYS_MS: z
    .string()
    .regex(/^\d{1,9}(,\d{1,9})*$/)
    .default("5000,30000,120000,600000,1800000,3600000"),
  WEBHOOK_TIMEOUT_MS: intFrom(10000, 100, 60000),
  WEBHOOK_RELAY_INTERVAL_MS: intFrom(500, 10, 60000),
  WEBHOOK_CONCURRENCY: intFrom(16, 1, 200),
  EVENT_RETENTION_DAYS: z.coerce.number().positive().max(3650).default(30),
  PAYMENT_PROVIDER: z.enum(["sandbox", "stripe"]).default("sandbox"),
  STRIPE_SECRET_KEY: z.string().min(1).optional(),
  STRIPE_WEBHOOK_SECRET: z.string().min(1).optional(),
  STRIPE_API_BASE: z.url({ protocol: /^https?$/ }).optional(),
  STRIPE_TIMEOUT_MS: intFrom(10000, 100, 120000),
  PROVIDER_CALL_LEASE_SECONDS: intFrom(60, 1, 3600),
});

/** Where the Stripe SDK sends its requests: Stripe itself unless STRIPE_API_BASE names another base (a local fake in tests). */
export type StripeApiBase = { protocol: "http" | "https"; host: string; port: number };

export type StripeSettings = {
  secretKey: string;
  /** One or more (rotation): an event signed with any of them is accepted. */
  webhookSecrets: string[];
  apiBase: StripeApiBase | undefined;
  timeoutMs: number;
};

function apiBaseOf(url: string | undefined): StripeApiBase | undefined {
  if (url === undefined) return undefined;
  const u = new URL(url);
  const protocol = u.protocol === "http:" ? "http" : "https";
  return { protocol, host: u.hostname, port: u.port ? Number(u.port) : protocol === "http" ? 80 : 443 };
}

export type Config = {
  port: number;
  databaseUrl: string | undefined;
  /**
   * Migrations and anything that needs a session (DATABASE_DIRECT_URL,
   * default DATABASE_URL). When it differs from databaseUrl, databaseUrl is
   * taken to be a transaction pooler (PgBouncer): the pool sends no startup
   * parameters and relies on the role defaults set at migrate.
   */
  databaseDirectUrl: string | undefined;
  /** A streaming replica for purchase-metrics reads (DATABASE_REPLICA_URL). */
  replicaUrl: string | undefined;
  replicaMaxLagSeconds: number;
  dataDir: string;
  embeddedPgPort: number;
  embeddedPgMaxConnections: number;
  embeddedPgSharedBuffersMb: number;
  adminApiKey: string | undefined;
  webhookSecret: string | undefined;
  currency: string;
  reservationTtlSeconds: number;
  paymentTtlSeconds: number;
  idempotencyTtlHours: number;
  rateLimitPerMinute: number;
  maxUnitsPerCustomerSku: number;
  logLevel: string;
  /** Unset: pretty on a terminal, JSON otherwise (see chooseLogFormat). */
  logFormat: "json" | "pretty" | undefined;
  db: { poolSize: number; connectTimeoutMs: number; statementTimeoutMs: number; lockTimeoutMs: number };
  sweepIntervalMs: number;
  shutdownGraceMs: number;
  /** After SIGTERM: out of rotation (/readyz 503) but still serving, before it stops accepting. */
  shutdownDrainMs: number;
  webhooks: {
    allowInsecureUrls: boolean;
    allowPrivateUrls: boolean;
    retryHours: number;
    retryDelaysMs: number[];
    timeoutMs: number;
    relayIntervalMs: number;
    concurrency: number;
  };
  eventRetentionDays: number;
  paymentProvider: "sandbox" | "stripe";
  /** Set when STRIPE_SECRET_KEY or STRIPE_WEBHOOK_SECRET is (both are required with PAYMENT_PROVIDER=stripe). */
  stripe: StripeSettings | undefined;
  /** How long one caller may hold the call that creates a provider payment before another may make it again. */
  providerCallLeaseSeconds: number;
};

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset, as a shell `FOO= npm start` intends.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ""));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid environment:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const webhookSecrets = (e.STRIPE_WEBHOOK_SECRET ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
  if (e.PAYMENT_PROVIDER === "stripe" && (!e.STRIPE_SECRET_KEY || webhookSecrets.length === 0)) {
    throw new Error(
      "invalid environment:\n  PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY (sk_...) and STRIPE_WEBHOOK_SECRET (whsec_..., comma-separated during a rotation)",
    );
  }
  // A claim must outlast the longest call it covers (the SDK's attempts: one plus two retries), or two calls could overlap.
  if (e.PAYMENT_PROVIDER === "stripe" && e.PROVIDER_CALL_LEASE_SECONDS * 1000 <= 3 * e.STRIPE_TIMEOUT_MS) {
    throw new Error(
      "invalid environment:\n  PROVIDER_CALL_LEASE_SECONDS must exceed three STRIPE_TIMEOUT_MS (the SDK tries a call up to three times)",
    );
  }
  return {
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    databaseDirectUrl: e.DATABASE_DIRECT_URL ?? e.DATABASE_URL,
    replicaUrl: e.DATABASE_REPLICA_URL,
    replicaMaxLagSeconds: e.REPLICA_MAX_LAG_SECONDS,
    dataDir: path.resolve(e.DATA_DIR),
    embeddedPgPort: e.EMBEDDED_PG_PORT,
    embeddedPgMaxConnections: e.EMBEDDED_PG_MAX_CONNECTIONS,
    embeddedPgSharedBuffersMb: e.EMBEDDED_PG_SHARED_BUFFERS_MB,
    adminApiKey: e.ADMIN_API_KEY,
    webhookSecret: e.WEBHOOK_SECRET,
    currency: e.CURRENCY,
    reservationTtlSeconds: e.RESERVATION_TTL_SECONDS,
    paymentTtlSeconds: e.PAYMENT_TTL_SECONDS,
    idempotencyTtlHours: e.IDEMPOTENCY_TTL_HOURS,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    maxUnitsPerCustomerSku: e.MAX_UNITS_PER_CUSTOMER_SKU,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    db: {
      poolSize: e.DB_POOL_SIZE,
      connectTimeoutMs: e.DB_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
      lockTimeoutMs: e.DB_LOCK_TIMEOUT_MS,
    },
    sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    webhooks: {
      allowInsecureUrls: e.WEBHOOK_ALLOW_INSECURE_URLS === "1",
      allowPrivateUrls: e.WEBHOOK_ALLOW_PRIVATE_URLS === "1",
      retryHours: e.WEBHOOK_RETRY_HOURS,
      retryDelaysMs: e.WEBHOOK_RETRY_DELAYS_MS.split(",").map(Number),
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      relayIntervalMs: e.WEBHOOK_RELAY_INTERVAL_MS,
      concurrency: e.WEBHOOK_CONCURRENCY,
    },
    eventRetentionDays: e.EVENT_RETENTION_DAYS,
    paymentProvider: e.PAYMENT_PROVIDER,
    stripe:
      e.STRIPE_SECRET_KEY || webhookSecrets.length > 0
        ? { secretKey: e.STRIPE_SECRET_KEY ?? "", webhookSecrets, apiBase: apiBaseOf(e.STRIPE_API_BASE), timeoutMs: e.STRIPE_TIMEOUT_MS }
        : undefined,
    providerCallLeaseSeconds: e.PROVIDER_CALL_LEASE_SECONDS,
  };
}
