import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { benchScript, runJsonWorker, track, withOpenFiles } from "./child-processes.js";
import { type LatencyPercentiles, latencyPercentiles, readTransactionLog } from "./latency.js";
import type { RawDriver } from "./options.js";

/**
 * The physical limit: the service's transactions as raw SQL, straight against
 * the same PostgreSQL, from a separate process. With pgbench on PATH it runs
 * them (`-M prepared`, so parsing is not what we measure); otherwise a tight
 * `pg` loop with N clients in a child process (bench/raw-sql-worker.ts) does.
 *
 * A transaction is written once, in pgbench's own notation, and both drivers
 * run the same text:
 * - `random` variables are drawn before each transaction (`\set x random(a, b)`);
 * - `:name` in SQL is a variable, passed as a query parameter (so every value
 *   needs an explicit cast, as under `-M prepared`);
 * - a step with `gset` must return exactly one row, whose columns become
 *   variables for the following steps (pgbench's `\gset`).
 */
export type RawStep = { sql: string; gset?: boolean };
export type RawTransaction = { random: Record<string, [number, number]>; steps: RawStep[] };

export type RawRunSpec = {
  databaseUrl: string;
  clients: number;
  durationSeconds: number;
  transaction: RawTransaction;
  /**
   * pgbench only: log every transaction (`-l`) to files named
   * `<transactionLog>.<pid>[.<thread>]`: client, number, latency µs, script,
   * epoch seconds and µs of its end.
   */
  transactionLog?: string;
  /** pgbench's threads (-j); default two, one per core. */
  threads?: number;
};

export type RawResult = {
  driver: RawDriver;
  clients: number;
  durationSeconds: number;
  transactions: number;
  failed: number;
  tps: number;
  latencyAvgMs: number | undefined;
  /**
   * Each transaction's latency, from its first statement sent to its last
   * answer, as the driver timed it (pgbench: from its transaction log),
   * each client's first transaction left out (pgbench counts its connecting).
   */
  latency?: LatencyPercentiles;
  /** pgbench: how long it took to open its connections, which its -T duration includes. */
  connectMs?: number;
};

const oneLine = (sql: string) => sql.replace(/\s+/g, " ").trim();

/** The transaction as a pgbench custom script. */
export function pgbenchScript(tx: RawTransaction): string {
  const lines = Object.entries(tx.random).map(([name, [min, max]]) => `\\set ${name} random(${min}, ${max})`);
  for (const step of tx.steps) lines.push(step.gset ? `${oneLine(step.sql)} \\gset` : `${oneLine(step.sql)};`);
  return `${lines.join("\n")}\n`;
}

/** `:name` → `$n` (not `::type` casts), and the variable names in parameter order. */
export function toParameterised(sql: string): { text: string; names: string[] } {
  const names: string[] = [];
  const text = oneLine(sql).replace(/(?<![:\w]):([A-Za-z_]\w*)/g, (_m, name: string) => {
    let i = names.indexOf(name);
    if (i < 0) i = names.push(name) - 1;
    return `$${i + 1}`;
  });
  return { text, names };
}

export async function runRawSql(spec: RawRunSpec, driver: RawDriver, scriptDir: string, label: string): Promise<RawResult> {
  if (driver === "node") {
    return runJsonWorker<RawRunSpec, RawResult>(benchScript("raw-sql-worker"), spec, (spec.durationSeconds + 60) * 1000, spec.clients + 64);
  }
  const scriptFile = path.join(scriptDir, `${label}.sql`);
  fs.mkdirSync(scriptDir, { recursive: true, mode: 0o755 });
  fs.writeFileSync(scriptFile, pgbenchScript(spec.transaction));
  return runPgbench(spec, scriptFile, path.join(scriptDir, `${label}-log`));
}

/**
 * pgbench always logs each transaction, for the latency percentiles; the log
 * is removed after, unless the caller named it (spec.transactionLog) to read
 * it too.
 */
function runPgbench(spec: RawRunSpec, scriptFile: string, ownLog: string): Promise<RawResult> {
  const url = new URL(spec.databaseUrl);
  const logPrefix = spec.transactionLog ?? ownLog;
  const args = [
    "-n", // no vacuum of pgbench's own tables: we have none
    "-f",
    scriptFile,
    "-c",
    String(spec.clients),
    "-j",
    String(Math.min(spec.threads ?? 2, spec.clients)),
    "-T",
    String(spec.durationSeconds),
    "-M",
    "prepared",
    "-h",
    url.hostname,
    "-p",
    url.port,
    "-U",
    decodeURIComponent(url.username),
    "-l",
    `--log-prefix=${logPrefix}`,
    url.pathname.slice(1),
  ];
  // A socket per client, and a few more.
  const line = withOpenFiles(spec.clients + 64, "pgbench", args);
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(line.command, line.args, {
        stdio: ["ignore", "pipe", "pipe"],
        // No TLS to a server on 127.0.0.1 that has none: one round trip less per connection (1,000 of them in the flash sale).
        env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password), PGAPPNAME: "orderlock-bench-raw", PGSSLMODE: "disable" },
      }),
    );
    let out = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const number = (re: RegExp) => {
        const m = re.exec(out);
        return m ? Number(m[1]) : undefined;
      };
      const tps = number(/^tps = ([\d.]+)/m);
      const transactions = number(/number of transactions actually processed: (\d+)/);
      // pgbench exits 2 when a client aborted (an SQL error in our script, or
      // prepared rows running out): the figures would be wrong, so fail.
      if (code !== 0 || tps === undefined || transactions === undefined) {
        reject(new Error(`pgbench exited with ${code} on ${scriptFile}:\n${out.trim().split("\n").slice(-15).join("\n")}`));
        return;
      }
      resolve({
        driver: "pgbench",
        clients: spec.clients,
        durationSeconds: spec.durationSeconds,
        transactions,
        failed: number(/number of failed transactions: (\d+)/) ?? 0,
        tps,
        latencyAvgMs: number(/latency average = ([\d.]+) ms/),
        latency: latencyPercentiles(
          readTransactionLog(logPrefix, { remove: spec.transactionLog === undefined })
            .filter((t) => !t.first)
            .map((t) => t.latencyUs),
        ),
        connectMs: number(/initial connection time = ([\d.]+) ms/),
      });
    });
  });
}
