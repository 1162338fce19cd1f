import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { stopOrphan } from "../src/db/embedded-postgres.js";

/**
 * The service under test, started the way production starts it
 * (`node dist/src/main.js`) on an embedded PostgreSQL of its own, in a fresh
 * data directory under ./.bench-pg/.
 *
 * What must stay true:
 * - Every directory from the repository down to the data directory is 0755:
 *   as root, initdb and postgres run as the `postgres` user, who must reach it
 *   (a 0700 mkdtemp parent would not do).
 * - DATABASE_URL is removed from the child's environment: the bench must never
 *   load someone's real database.
 * - stop() always leaves no process behind: SIGTERM (the graceful path, which
 *   stops postgres last); if that hangs, SIGKILL and then stop the orphaned
 *   postgres from its postmaster.pid.
 */
export type RunningService = {
  baseUrl: string;
  /** The service's process id (for CPU accounting). */
  pid: number | undefined;
  /** Every service process behind baseUrl (one, or each instance behind HAProxy with --instances). */
  pids: (number | undefined)[];
  adminKey: string;
  webhookSecret: string;
  dataDir: string;
  pgPort: number;
  logFile: string;
  /** postgres://… of the service's own database; the password is only known once the service has started. */
  databaseUrl(): string;
  /** Stops the service; resolves with its exit code (null when it had to be killed). */
  stop(): Promise<number | null>;
  /** The service process's resident memory now, in MiB (undefined where /proc is missing). */
  rssMiB(): number | undefined;
};

/** The settings the bench runs the service with, besides ports, paths and secrets (recorded in results.json). */
export const BENCH_SERVICE_ENV: Record<string, string> = {
  NODE_ENV: "production",
  LOG_LEVEL: "warn",
  // No hold may expire during the run: the expiry sweeper would then move
  // stock back while we measure, and the orders we prepare for the payment
  // workload must still be payable minutes later. 30 days is the maximum.
  RESERVATION_TTL_SECONDS: String(30 * 24 * 3600),
  // The per-customer limit (default 1200/min) would turn the measurement
  // into a count of 429s. The limiter still runs on every request.
  RATE_LIMIT_PER_MINUTE: "1000000",
  // The per-customer cap on units of one SKU held stays at its production
  // default (0, off). With a cap, one customer's orders serialise on their
  // customer row and each order sums the customer's held units: a policy
  // cost the operator opts into, measured by setting it here.
  MAX_UNITS_PER_CUSTOMER_SKU: "0",
  // Idempotency keys kept as long as events (EVENT_RETENTION_DAYS, 30): with
  // --preload the database then holds a key per order of the month, as a
  // deployment with this TTL would, and the purge removes only what ages
  // past it (with the default 24 h its first run would delete 29/30 of the
  // preloaded keys during the cells). No effect on an empty run.
  IDEMPOTENCY_TTL_HOURS: String(30 * 24),
  SHUTDOWN_GRACE_MS: "5000",
};

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function mkdirReachable(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
}

/** The last lines of a log, each cut short: a JSON log line can carry a whole serialised object. */
export function tail(file: string, lines = 20): string {
  try {
    return fs
      .readFileSync(file, "utf8")
      .trimEnd()
      .split("\n")
      .slice(-lines)
      .map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l))
      .join("\n");
  } catch {
    return "";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `shared`: a further instance on the first one's database (bench
 * --instances=N): DATABASE_URL is that database, keys are the first's, and
 * no embedded PostgreSQL is started.
 */
export async function startService(options: {
  repoRoot: string;
  runDir: string;
  shared?: { databaseUrl: string; adminKey: string; webhookSecret: string };
  /** Settings on top of BENCH_SERVICE_ENV (the soak's, bench/soak.ts; the flash sale's max_connections). */
  env?: Record<string, string>;
}): Promise<RunningService> {
  const dataDir = path.join(options.runDir, "data");
  mkdirReachable(dataDir);
  const logFile = path.join(options.runDir, "service.log");
  const port = await freePort();
  let pgPort = await freePort();
  while (pgPort === port) pgPort = await freePort();
  const adminKey = options.shared?.adminKey ?? `ol_admin_bench_${randomBytes(16).toString("hex")}`;
  const webhookSecret = options.shared?.webhookSecret ?? `whsec_bench_${randomBytes(16).toString("hex")}`;

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...BENCH_SERVICE_ENV,
    ...options.env,
    PORT: String(port),
    DATA_DIR: dataDir,
    EMBEDDED_PG_PORT: String(pgPort),
    ADMIN_API_KEY: adminKey,
    WEBHOOK_SECRET: webhookSecret,
  };
  delete env.DATABASE_URL;
  delete env.DATABASE_DIRECT_URL;
  delete env.DATABASE_REPLICA_URL;
  if (options.shared) env.DATABASE_URL = options.shared.databaseUrl;

  const logFd = fs.openSync(logFile, "a", 0o644);
  // BENCH_SERVICE_NODE_ARGS: extra node flags for the service, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.BENCH_SERVICE_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, path.join(options.repoRoot, "dist/src/main.js")], {
    cwd: options.repoRoot,
    env,
    stdio: ["ignore", logFd, logFd],
  });
  fs.closeSync(logFd);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;

  const baseUrl = `http://127.0.0.1:${port}`;
  let databaseUrl: string | undefined = options.shared?.databaseUrl;

  let stopping: Promise<number | null> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (!hasExited()) child.kill("SIGTERM");
      const timedOut = Symbol("timeout");
      const result = await Promise.race([exited, sleep(30000).then(() => timedOut)]);
      if (result === timedOut) child.kill("SIGKILL");
      const code = result === timedOut ? null : (result as number | null);
      await exited;
      // Whatever happened to the service, its postgres must not outlive the run.
      await stopOrphan(path.join(dataDir, "pg"), () => {});
      return code;
    })());

  const service: RunningService = {
    baseUrl,
    pid: child.pid,
    pids: [child.pid],
    adminKey,
    webhookSecret,
    dataDir,
    pgPort,
    logFile,
    databaseUrl() {
      if (!databaseUrl) {
        // Written by the service on its first start (embedded mode only).
        const secrets = JSON.parse(fs.readFileSync(path.join(dataDir, "secrets.json"), "utf8")) as { pgPassword: string };
        databaseUrl = `postgres://postgres:${encodeURIComponent(secrets.pgPassword)}@127.0.0.1:${pgPort}/orderlock`;
      }
      return databaseUrl;
    },
    stop,
    rssMiB() {
      try {
        const kib = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1];
        return kib ? Math.round(Number(kib) / 1024) : undefined;
      } catch {
        return undefined;
      }
    },
  };

  try {
    await waitUntilReady(baseUrl, hasExited, 120000);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n--- last lines of ${logFile} ---\n${tail(logFile)}`);
  }
  return service;
}

async function waitUntilReady(baseUrl: string, hasExited: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (hasExited()) throw new Error("the service exited during start-up");
    try {
      const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `GET /readyz answered ${res.status}`;
    } catch (err) {
      last = String((err as Error).message);
    }
    await sleep(200);
  }
  throw new Error(`the service was not ready within ${timeoutMs} ms (${last})`);
}
