import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { ApiClient } from "./api-client.js";
import { killActiveChildren } from "./child-processes.js";
import { type CpuPerRequest, describeCpu, measureCpu } from "./cpu-usage.js";
import { type DbPerRequest, describeDb, formatDbActivity, perRequest, readDbCounters } from "./db-activity.js";
import { FLASH_SERVICE_ENV, type FlashResult, runFlash } from "./flash.js";
import { type Haproxy, startHaproxy } from "./haproxy.js";
import { checkInvariants, InvariantViolation, recordStockBaseline } from "./invariants.js";
import { runLoad } from "./load.js";
import type { LoadResult } from "./load-spec.js";
import { type BenchOptions, parseOptions } from "./options.js";
import { type PreloadResult, preloadHistory } from "./preload.js";
import { runRawSql } from "./raw-sql.js";
import { type CellResult, describeMachine, formatFlash, formatSoak, formatTable, type Machine, writeResults } from "./report.js";
import { createCustomers, createHotProducts, insertRawCustomers, insertSpreadProducts, SERVICE_SPREAD_PREFIX, spreadSkus } from "./seed.js";
import { BENCH_SERVICE_ENV, freePort, mkdirReachable, type RunningService, startService, tail } from "./service.js";
import { runSoak, type SoakResult, soakServiceEnv } from "./soak.js";
import { formatHotUpdates, formatTableSizes, readTableStats, type TableStat } from "./table-stats.js";
import { type BenchContext, WORKLOADS } from "./workloads.js";

/**
 * `npm run bench`: the service's production build on a database of its own,
 * driven over HTTP by wrk or autocannon, next to the same transactions as raw SQL on
 * the same PostgreSQL, with the invariants checked in SQL after every cell.
 *
 * Progress goes to stderr; the table goes to stdout and, with the machine,
 * to bench/results.json. Exit code 0 only if every cell ran, every invariant
 * held, the flash sale (when asked for) met its correctness criteria, and the
 * service stopped with exit code 0 on SIGTERM.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const log = (line: string) => process.stderr.write(`${line}\n`);
const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 0 });

let service: RunningService | undefined;
let proxy: Haproxy | undefined;

/**
 * --instances=N (N > 1): N-1 more instances on the first one's database and
 * HAProxy in front (ops/haproxy); the returned service is the whole fleet:
 * its baseUrl is the proxy's, its pids every instance's, stop() stops the
 * proxy, then the extra instances, then the first (which owns the database).
 */
async function startFleet(
  options: BenchOptions,
  first: RunningService,
  runDir: string,
  env: Record<string, string>,
): Promise<RunningService> {
  const shared = { databaseUrl: first.databaseUrl(), adminKey: first.adminKey, webhookSecret: first.webhookSecret };
  const others: RunningService[] = [];
  const stopAll = async () => {
    await proxy?.stop();
    const codes = [];
    for (const s of others) codes.push(await s.stop());
    codes.push(await first.stop());
    return codes.find((c) => c !== 0) ?? 0;
  };
  try {
    for (let i = 2; i <= options.instances; i++) {
      const dir = path.join(runDir, `instance-${i}`);
      mkdirReachable(dir);
      log(`starting instance ${i} of ${options.instances} on the same database`);
      others.push(await startService({ repoRoot, runDir: dir, shared, env }));
    }
    proxy = await startHaproxy({
      port: await freePort(),
      instancePorts: [first, ...others].map((s) => Number(new URL(s.baseUrl).port)),
      dir: path.join(runDir, "haproxy"),
    });
  } catch (err) {
    await stopAll();
    throw err;
  }
  log(`HAProxy on ${proxy.baseUrl} in front of ${options.instances} instances`);
  return {
    ...first,
    baseUrl: proxy.baseUrl,
    pids: [first, ...others].map((s) => s.pid),
    stop: stopAll,
  };
}

/** Seeds the run's customers and products; the context every workload prepares from. */
async function seed(options: BenchOptions, svc: RunningService, db: pg.Client): Promise<BenchContext> {
  const api = new ApiClient(svc.baseUrl);
  log("seeding: customers, 2 × 10,000 products, hot products");
  const customers = await createCustomers(api, svc.adminKey);
  const rawCustomerIds = await insertRawCustomers(db);
  await insertSpreadProducts(db);
  await createHotProducts(api, svc.adminKey, db);
  await recordStockBaseline(db);
  // Rows inserted with SQL must be rows the service can serve.
  await api.expect(200, "GET", `/v1/products/${spreadSkus(SERVICE_SPREAD_PREFIX)[0]}`, { key: svc.adminKey });

  const ctx: BenchContext = {
    api,
    db,
    adminKey: svc.adminKey,
    webhookSecret: svc.webhookSecret,
    customers,
    rawCustomerIds,
    durationSeconds: options.durationSeconds,
    measured: { serviceOrderRps: new Map(), rawOrderTps: new Map() },
    log,
  };
  return ctx;
}

type Tables = { before: TableStat[]; after: TableStat[] };

async function runCells(
  options: BenchOptions,
  svc: RunningService,
  ctx: BenchContext,
  runDir: string,
): Promise<{ cells: CellResult[]; tables: Tables }> {
  const db = ctx.db;

  if (options.warmupSeconds > 0 && !(await WORKLOADS["orders-spread"].probe(ctx))) {
    const connections = Math.max(...options.connections);
    log(`warm-up: ${options.warmupSeconds} s of orders-spread at ${connections} connections, not reported`);
    const target = await WORKLOADS["orders-spread"].prepareService(ctx, connections);
    await runLoad(
      { url: svc.baseUrl, connections, durationSeconds: options.warmupSeconds, target },
      options.loadDriver,
      path.join(runDir, "scripts"),
      "warmup",
    );
  }

  // Sizes and update counters before the first cell and after the last (table-stats.ts).
  const before = await readTableStats(db);
  const cells: CellResult[] = [];
  const pgDataDir = path.join(svc.dataDir, "pg");
  // Resident memory of the service after each cell: it must stay flat over the run.
  const rssAfterService: (number | undefined)[] = [];
  for (const name of options.workloads) {
    const workload = WORKLOADS[name];
    const skipped = await workload.probe(ctx);
    if (skipped) log(`${name}: service side ${skipped}`);

    for (const connections of options.connections) {
      const cell = `${name} @${connections} connections`;
      let serviceResult: LoadResult | { skipped: string } = { skipped: skipped ?? "" };
      let afterService: string | undefined;
      let serviceCpu: CpuPerRequest | undefined;
      let serviceDb: DbPerRequest | undefined;
      if (!skipped) {
        const target = await workload.prepareService(ctx, connections);
        log(`${cell}: service (${options.loadDriver}), ${options.durationSeconds} s`);
        const dbBefore = await readDbCounters(db);
        const cpuDone = measureCpu({ servicePids: svc.pids, proxyPid: proxy?.pid, pgDataDir });
        const result = await runLoad(
          { url: svc.baseUrl, connections, durationSeconds: options.durationSeconds, target },
          options.loadDriver,
          path.join(runDir, "scripts"),
          `${name}-${connections}`,
        );
        serviceCpu = cpuDone(result.responses);
        serviceDb = perRequest(dbBefore, await readDbCounters(db, 1100), result.responses);
        log(
          `  ${fmt(result.requestsPerSecond)} req/s, p99 ${result.latencyP99Ms} ms, p99.9 ${result.latencyP999Ms} ms, ${result.non2xx} non-2xx; service RSS ${svc.rssMiB() ?? "?"} MiB`,
        );
        rssAfterService.push(svc.rssMiB());
        afterService = await checkInvariants(db, `${cell} (service)`);
        log(`  ${afterService}`);
        if (name === "orders-spread") ctx.measured.serviceOrderRps.set(connections, result.requestsPerSecond);
        serviceResult = result;
      }

      const transaction = await workload.prepareRaw(ctx, connections);
      log(`${cell}: raw SQL (${options.rawDriver}), ${options.durationSeconds} s`);
      const rawDbBefore = await readDbCounters(db);
      const rawCpuDone = measureCpu({ pgDataDir });
      const raw = await runRawSql(
        { databaseUrl: svc.databaseUrl(), clients: connections, durationSeconds: options.durationSeconds, transaction },
        options.rawDriver,
        path.join(runDir, "scripts"),
        `${name}-${connections}`,
      );
      // Our own SQL failing means the physical-limit figure is not one.
      const rawCpu = rawCpuDone(raw.transactions);
      const rawDb = perRequest(rawDbBefore, await readDbCounters(db, 1100), raw.transactions);
      if (raw.failed > 0) throw new Error(`${cell}: ${raw.failed} raw-SQL transactions failed; the raw script is broken`);
      log(`  ${fmt(raw.tps)} tps${raw.latency ? `, p99 ${raw.latency.p99Ms} ms, p99.9 ${raw.latency.p999Ms} ms` : ""}`);
      log(`  CPU ms per request: ${describeCpu(serviceCpu)}; per raw transaction: ${describeCpu(rawCpu)}`);
      log(`  per request: ${describeDb(serviceDb)}; per raw transaction: ${describeDb(rawDb)}`);
      const afterRaw = await checkInvariants(db, `${cell} (raw SQL)`);
      log(`  ${afterRaw}`);
      if (name === "orders-spread") ctx.measured.rawOrderTps.set(connections, raw.tps);

      cells.push({
        workload: name,
        connections,
        service: serviceResult,
        raw,
        ratio: "skipped" in serviceResult ? undefined : serviceResult.requestsPerSecond / raw.tps,
        invariants: { afterService, afterRaw },
        serviceRssMiB: rssAfterService.at(-1),
        cpuMs: { service: serviceCpu, raw: rawCpu },
        db: { service: serviceDb, raw: rawDb },
      });
    }
  }
  return { cells, tables: { before, after: await readTableStats(db, 2000) } };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date();
  // Under the repository, 0755 all the way: the `postgres` user must reach it.
  const benchRoot = path.join(repoRoot, ".bench-pg");
  mkdirReachable(benchRoot);
  const runDir = path.join(benchRoot, `run-${startedAt.toISOString().replace(/[:.]/g, "-")}-${process.pid}`);
  mkdirReachable(runDir);

  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the load and the service`);
    killActiveChildren();
    void (service?.stop() ?? Promise.resolve()).finally(() => {
      log(`the run's data directory is kept: ${runDir}`);
      process.exit(130);
    });
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let cells: CellResult[] = [];
  let soak: SoakResult | undefined;
  let preload: PreloadResult | undefined;
  let tables: Tables | undefined;
  let flash: FlashResult | undefined;
  let machine: Machine | undefined;
  let failure: string | undefined;
  // A soak compresses time: short retention windows, and a local webhook receiver (bench/soak.ts).
  // The flash sale raises the embedded PostgreSQL's max_connections for its pgbench twin.
  const extraEnv = {
    ...(options.soakSeconds > 0 ? soakServiceEnv(options.soakSeconds) : {}),
    ...(options.flash ? FLASH_SERVICE_ENV : {}),
  };
  try {
    log(`starting the service (dist/src/main.js) in ${path.relative(repoRoot, runDir)}`);
    service = await startService({ repoRoot, runDir, env: extraEnv });
    if (options.instances > 1) service = await startFleet(options, service, runDir, extraEnv);
    const db = new pg.Client({ connectionString: service.databaseUrl(), application_name: "orderlock-bench" });
    db.on("error", () => {});
    await db.connect();
    try {
      machine = await describeMachine(db);
      const ctx = await seed(options, service, db);
      if (options.preloadOrders > 0) {
        preload = await preloadHistory(service.databaseUrl(), options.preloadOrders, log);
        await recordStockBaseline(db);
      }
      ({ cells, tables } = await runCells(options, service, ctx, runDir));
      if (options.flash) {
        flash = await runFlash({
          api: ctx.api,
          db,
          adminKey: ctx.adminKey,
          rawCustomerIds: ctx.rawCustomerIds,
          baseUrl: service.baseUrl,
          databaseUrl: service.databaseUrl(),
          servicePids: service.pids,
          proxyPid: proxy?.pid,
          pgDataDir: path.join(service.dataDir, "pg"),
          loadDriver: options.loadDriver,
          rawDriver: options.rawDriver,
          scriptDir: path.join(runDir, "scripts"),
          log,
        });
        const failed = flash.criteria.filter((c) => !c.pass && !c.goal);
        if (failed.length > 0) failure = `FLASH SALE CRITERIA FAILED: ${failed.map((c) => `${c.name} (${c.detail})`).join("; ")}`;
      }
      if (options.soakSeconds > 0) {
        soak = await runSoak(ctx, service, options.soakSeconds, options.loadDriver, path.join(runDir, "scripts"));
        if (soak.failures.length > 0) failure = soak.failures.join("\n");
      }
    } finally {
      await db.end().catch(() => {});
    }
  } catch (err) {
    killActiveChildren();
    failure =
      err instanceof InvariantViolation
        ? `INVARIANT VIOLATED ${err.message}`
        : `${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  } finally {
    if (service) {
      log("stopping the service (SIGTERM)");
      const code = await service.stop();
      if (code !== 0 && !failure) failure = `the service exited with ${code ?? "SIGKILL after a 30 s wait"} on SIGTERM; expected 0`;
    }
  }

  if (cells.length > 0) process.stdout.write(`\n${formatTable(cells)}\n`);
  if (preload) {
    process.stdout.write(
      `\npreloaded ${preload.orders.toLocaleString("en-US")} orders of ${preload.customers.toLocaleString("en-US")} customers in ${fmt(preload.seconds)} s\n`,
    );
  }
  if (cells.length > 0) process.stdout.write(`\n${formatDbActivity(cells)}\n`);
  if (tables)
    process.stdout.write(`\n${formatTableSizes(tables.before, tables.after)}\n\n${formatHotUpdates(tables.before, tables.after)}\n`);
  if (soak) process.stdout.write(`\n${formatSoak(soak)}\n`);
  if (flash) process.stdout.write(`\n${formatFlash(flash)}\n`);
  if (machine) {
    process.stdout.write(
      `\n${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB; Node ${machine.node}; PostgreSQL ${machine.postgres}\n`,
    );
    process.stdout.write(`load generator: ${options.loadDriver}; raw SQL: ${options.rawDriver}\n`);
    const resultsFile = path.join(repoRoot, "bench", "results.json");
    const serviceEnv = { ...BENCH_SERVICE_ENV, ...extraEnv };
    writeResults(resultsFile, {
      options,
      machine,
      serviceEnv,
      cells,
      soak,
      preload,
      tables,
      flash,
      startedAt,
      ok: !failure,
      failure,
    });
    process.stdout.write(`results: ${path.relative(process.cwd(), resultsFile) || resultsFile}\n`);
  }

  if (failure) {
    log(`\nBENCH FAILED: ${failure}`);
    if (service) log(`\nservice log (${service.logFile}), last lines:\n${tail(service.logFile)}`);
    log(`\nthe run's data directory is kept for inspection: ${runDir}`);
    return 1;
  }
  if (!options.keepData) fs.rmSync(runDir, { recursive: true, force: true });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    killActiveChildren();
    void (service?.stop() ?? Promise.resolve()).finally(() => process.exit(1));
  },
);
