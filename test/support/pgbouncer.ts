import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { freePort } from "./service-process.js";
import { unprivilegedIds } from "./system-binary.js";

export type PgBouncer = {
  port: number;
  /** `url` with its host and port replaced by PgBouncer's. */
  through(url: string): string;
  log(): string;
  stop(): Promise<void>;
};

/**
 * A real PgBouncer in transaction pooling mode in front of the PostgreSQL at
 * `serverUrl` (every database on it, `* = host=... port=...`), on 127.0.0.1.
 * Clients authenticate with md5 against a userlist holding the server
 * user's password, which PgBouncer also uses to log in to the server (SCRAM).
 * Only extra_float_digits is ignored among startup parameters, as in production:
 * anything else (statement_timeout, lock_timeout, options) is refused.
 */
export async function startPgBouncer(binary: string, serverUrl: string, poolSize = 20): Promise<PgBouncer> {
  const server = new URL(serverUrl);
  const dir = path.resolve(".test-pg", `pgbouncer-${randomBytes(5).toString("hex")}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  const ids = unprivilegedIds();
  const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;
  fs.writeFileSync(path.join(dir, "userlist.txt"), `${quote(user)} ${quote(password)}\n`, { mode: 0o600 });
  const ini = [
    "[databases]",
    `* = host=${server.hostname} port=${server.port}`,
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    "auth_type = md5",
    `auth_file = ${path.join(dir, "userlist.txt")}`,
    "pool_mode = transaction",
    "ignore_startup_parameters = extra_float_digits",
    "max_client_conn = 1000",
    `default_pool_size = ${poolSize}`,
    "server_reset_query =",
    `logfile = ${path.join(dir, "pgbouncer.log")}`,
    ...(ids ? ["user = postgres"] : []),
  ].join("\n");
  const iniFile = path.join(dir, "pgbouncer.ini");
  fs.writeFileSync(iniFile, `${ini}\n`, { mode: 0o644 });
  if (ids) for (const f of fs.readdirSync(dir)) fs.chownSync(path.join(dir, f), ids.uid, ids.gid);
  if (ids) fs.chownSync(dir, ids.uid, ids.gid);

  const child: ChildProcess = spawn(binary, [iniFile], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const log = () => out + (fs.existsSync(path.join(dir, "pgbouncer.log")) ? fs.readFileSync(path.join(dir, "pgbouncer.log"), "utf8") : "");
  process.once("exit", () => child.kill("SIGKILL"));

  const deadline = Date.now() + 10000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited during start:\n${log()}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`pgbouncer not listening within 10 s:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    through(url: string) {
      const u = new URL(url);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    log,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGINT");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
