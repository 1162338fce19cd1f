import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { freePort } from "./service-process.js";
import { unprivilegedIds } from "./system-binary.js";

/**
 * A primary and a streaming hot standby from the same PostgreSQL binaries
 * (the Debian PostgreSQL 15 ones: the embedded package has no pg_basebackup,
 * and a standby must run the primary's major version). The primary has
 * wal_level=replica; the standby is a pg_basebackup -R of it, streaming. As
 * root both run as the unprivileged `postgres` user, in directories it can
 * reach. Trust authentication, 127.0.0.1 only: a throwaway test cluster.
 */
type PgServer = { port: number; url(database: string): string; dataDir: string; stop(mode?: "fast" | "immediate"): Promise<void> };
export type StreamingPair = { primary: PgServer; standby: PgServer; remove(): Promise<void> };

export async function startStreamingPair(binDir: string): Promise<StreamingPair> {
  const ids = unprivilegedIds();
  const root = path.resolve(".test-pg", `replica-${randomBytes(5).toString("hex")}`);
  fs.mkdirSync(root, { recursive: true, mode: 0o755 });
  fs.chmodSync(root, 0o755);
  if (ids) fs.chownSync(root, ids.uid, ids.gid);
  const bin = (name: string) => path.join(binDir, name);

  const primaryDir = path.join(root, "primary");
  await run(bin("initdb"), ["-D", primaryDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions"], ids);
  const primaryPort = await freePort();
  const primary = await startServer(bin("postgres"), primaryDir, primaryPort, ids, {
    wal_level: "replica",
    max_wal_senders: "5",
  });
  const standbyDir = path.join(root, "standby");
  try {
    await run(
      bin("pg_basebackup"),
      ["-h", "127.0.0.1", "-p", String(primaryPort), "-U", "postgres", "-D", standbyDir, "-R", "-X", "stream", "--checkpoint=fast"],
      ids,
    );
  } catch (err) {
    await primary.stop("immediate");
    throw err;
  }
  const standby = await startServer(bin("postgres"), standbyDir, await freePort(), ids, { hot_standby: "on" });
  return {
    primary,
    standby,
    async remove() {
      await standby.stop("immediate");
      await primary.stop("immediate");
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

type Ids = { uid: number; gid: number } | undefined;

function run(cmd: string, args: string[], ids: Ids): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...ids, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(cmd)} exited with ${code}: ${out}`))));
  });
}

async function startServer(postgres: string, dataDir: string, port: number, ids: Ids, settings: Record<string, string>): Promise<PgServer> {
  const all: Record<string, string> = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: "",
    fsync: "off",
    full_page_writes: "off",
    max_connections: "100",
    ...settings,
  };
  const args = ["-D", dataDir, "-p", String(port)];
  for (const [k, v] of Object.entries(all)) args.push("-c", `${k}=${v}`);
  const logFile = path.join(path.dirname(dataDir), `${path.basename(dataDir)}.log`);
  const fd = fs.openSync(logFile, "a", 0o644);
  const child: ChildProcess = spawn(postgres, args, { ...ids, detached: true, stdio: ["ignore", fd, fd] });
  fs.closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.once("exit", () => child.kill("SIGKILL"));
  const url = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    const c = new pg.Client({ connectionString: url("postgres"), connectionTimeoutMillis: 1000 });
    c.on("error", () => {});
    try {
      await c.connect();
      await c.query("SELECT 1");
      await c.end();
      break;
    } catch (err) {
      await c.end().catch(() => {});
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`postgres in ${dataDir} did not start: ${String(err)}\n${fs.readFileSync(logFile, "utf8")}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port,
    url,
    dataDir,
    async stop(mode = "fast") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(mode === "fast" ? "SIGINT" : "SIGQUIT");
      await exited;
    },
  };
}
