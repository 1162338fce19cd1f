import fs from "node:fs";
import path from "node:path";

/**
 * Command-line options of `npm run bench`. Defaults are the full run (10 s per
 * cell, 16 and 64 connections, the three cell workloads); `--quick` is the
 * smoke run that must finish in under a minute, so it drops the
 * 64-connection cells too. The flash sale (bench/flash.ts) runs only when
 * named in --workloads: it is a fixed scenario (1,000 connections for 20 s;
 * with its seeding and its raw-SQL twin, whose 1,000 connections take long to
 * open, two to four minutes here) that raises PostgreSQL's max_connections
 * and starts a thousand backends, so it stays out of the default run.
 */
export const WORKLOAD_NAMES = ["orders-spread", "orders-hot", "payments-confirm"] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];
export const FLASH = "flash";

export type RawDriver = "pgbench" | "node";
export type LoadDriver = "wrk" | "autocannon";

export type BenchOptions = {
  quick: boolean;
  durationSeconds: number;
  warmupSeconds: number;
  connections: number[];
  workloads: WorkloadName[];
  /** The flash sale, after the cells (`--workloads=...,flash`). */
  flash: boolean;
  rawDriver: RawDriver;
  loadDriver: LoadDriver;
  /** Seconds of the soak after the cells (bench/soak.ts); 0: none. */
  soakSeconds: number;
  /** Keep the run's data directory (database, logs, scripts) after a successful run. */
  keepData: boolean;
  /** Service instances; above 1 they share the first one's database behind HAProxy (ops/haproxy). */
  instances: number;
  /** Orders of history written before the cells (bench/preload.ts); 0: an empty database. */
  preloadOrders: number;
};

const USAGE = `usage: node dist/bench/run.js [options]
  --quick                 3 s per cell, 16 connections only, no warm-up (under a minute)
  --duration=<s>          seconds per cell (default 10; 3 with --quick)
  --connections=<n,n>     connection counts (default 16,64; 16 with --quick)
  --workloads=<a,b>       subset of ${WORKLOAD_NAMES.join(", ")} (default: these three), and/or
                          ${FLASH}: 1,000 units of one SKU, 1,000 connections for 20 s, next to pgbench (only when named)
  --raw=<auto|pgbench|node>  raw-SQL driver (auto: pgbench when on PATH, else a pg loop)
  --load=<auto|wrk|autocannon>  HTTP load generator (auto: wrk when on PATH, else autocannon)
  --soak=<s>              after the cells, <s> seconds (60 or more) of orders, order lives and webhooks checking that memory
                          stays flat and retained tables bounded (retention compressed to <s>/10; default 0: none)
  --keep-data             keep .bench-pg/<run>/ after a successful run
  --instances=<n>         n service instances on one PostgreSQL behind HAProxy (default 1: no proxy)
  --preload=<orders>      before the cells, fill the database with <orders> orders of the last 30 days, with
                          their lines, keys, events and payments (e.g. 10000000; takes minutes)`;

export function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function positiveInts(value: string, flag: string): number[] {
  const numbers = value.split(",").map((s) => Number(s.trim()));
  if (numbers.length === 0 || numbers.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`${flag} wants positive integers, got "${value}"\n${USAGE}`);
  }
  return numbers;
}

export function parseOptions(argv: string[]): BenchOptions {
  const flags = new Map<string, string | true>();
  for (const arg of argv) {
    if (arg === "--help" || arg === "-h") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unknown argument "${arg}"\n${USAGE}`);
    flags.set(match[1], match[2] ?? true);
  }
  const known = new Set(["quick", "duration", "connections", "workloads", "raw", "load", "soak", "keep-data", "instances", "preload"]);
  for (const name of flags.keys()) if (!known.has(name)) throw new Error(`unknown option --${name}\n${USAGE}`);
  const value = (name: string): string | undefined => {
    const v = flags.get(name);
    if (v === true) throw new Error(`--${name} needs a value\n${USAGE}`);
    return v;
  };

  const quick = flags.has("quick");
  const duration = value("duration");
  const connections = value("connections");
  const workloads = value("workloads");
  const raw = value("raw") ?? "auto";
  const load = value("load") ?? "auto";
  const soak = value("soak");
  const instances = value("instances");
  const preload = value("preload");

  const selected = workloads ? workloads.split(",").map((s) => s.trim()) : [...WORKLOAD_NAMES];
  for (const w of selected) {
    if (!(WORKLOAD_NAMES as readonly string[]).includes(w) && w !== FLASH) throw new Error(`unknown workload "${w}"\n${USAGE}`);
  }
  if (!["auto", "pgbench", "node"].includes(raw)) throw new Error(`--raw must be auto, pgbench or node\n${USAGE}`);
  const rawDriver: RawDriver = raw === "auto" ? (onPath("pgbench") ? "pgbench" : "node") : (raw as RawDriver);
  if (rawDriver === "pgbench" && !onPath("pgbench")) throw new Error("--raw=pgbench, but pgbench is not on PATH");
  if (!["auto", "wrk", "autocannon"].includes(load)) throw new Error(`--load must be auto, wrk or autocannon\n${USAGE}`);
  const loadDriver: LoadDriver = load === "auto" ? (onPath("wrk") ? "wrk" : "autocannon") : (load as LoadDriver);
  if (loadDriver === "wrk" && !onPath("wrk")) throw new Error("--load=wrk, but wrk is not on PATH");

  return {
    quick,
    durationSeconds: duration ? positiveInts(duration, "--duration")[0] : quick ? 3 : 10,
    // The first seconds of a fresh Node process and a cold database are not
    // the steady state; the full run spends a little time getting there.
    // After a preload, longer: the orders' indexes must come back into
    // shared buffers and the new connections map them, which on ten million
    // orders made the first ~15 s at full load a third dearer
    // (docs/performance.md, "Ten million orders: a cold buffer pool").
    warmupSeconds: quick ? 0 : preload === undefined ? 3 : 30,
    connections: connections ? positiveInts(connections, "--connections") : quick ? [16] : [16, 64],
    workloads: WORKLOAD_NAMES.filter((w) => selected.includes(w)),
    flash: selected.includes(FLASH),
    rawDriver,
    loadDriver,
    soakSeconds: soak === undefined ? 0 : positiveInts(soak, "--soak")[0],
    keepData: flags.has("keep-data"),
    instances: instances === undefined ? 1 : positiveInts(instances, "--instances")[0],
    preloadOrders: preload === undefined ? 0 : positiveInts(preload, "--preload")[0],
  };
}
