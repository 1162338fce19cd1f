import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

/**
 * The real service, from its production build (`npm test` builds first), as
 * a child process with its own embedded PostgreSQL in its own data directory:
 * for tests that kill it with SIGKILL and start it again.
 */
export const SERVICE_ADMIN_KEY = "ol_admin_crash_test_key_0123456789";
export const SERVICE_WEBHOOK_SECRET = "whsec_crash_test_secret_0123456789";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export type ServiceProcess = {
  url: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  /** Output so far (stdout and stderr), for failure messages. */
  output(): string;
  kill9(): Promise<void>;
  stop(): Promise<number | null>;
};

export type ServiceConfig = { dataDir: string; port: number; pgPort: number; env?: Record<string, string> };

/** A fresh data directory under .test-pg/ (0755 all the way: the postgres user must reach it). */
export async function newServiceConfig(env: Record<string, string> = {}): Promise<ServiceConfig> {
  const dataDir = path.resolve(".test-pg", `svc-${randomBytes(5).toString("hex")}`);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  return { dataDir, port: await freePort(), pgPort: await freePort(), env };
}

/** Services still running when the test process exits (a failed assertion skipped their stop) are killed then. */
const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export async function startService(cfg: ServiceConfig, timeoutMs = 60000): Promise<ServiceProcess> {
  const entry = path.resolve("dist/src/main.js");
  if (!fs.existsSync(entry)) throw new Error("dist/src/main.js is missing: run `npm run build` (npm test does)");
  const child = spawn(process.execPath, [entry], {
    env: {
      ...process.env,
      DATABASE_URL: "",
      DATA_DIR: cfg.dataDir,
      PORT: String(cfg.port),
      EMBEDDED_PG_PORT: String(cfg.pgPort),
      ADMIN_API_KEY: SERVICE_ADMIN_KEY,
      WEBHOOK_SECRET: SERVICE_WEBHOOK_SECRET,
      LOG_LEVEL: "warn",
      ...cfg.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const url = `http://127.0.0.1:${cfg.port}`;
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service exited during start (${child.exitCode}):\n${out}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`service not ready within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port: cfg.port,
    dataDir: cfg.dataDir,
    child,
    output: () => out,
    async kill9() {
      child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Removes a service's data directory after its postgres has stopped. */
export function removeDataDir(dataDir: string): void {
  fs.rmSync(dataDir, { recursive: true, force: true });
}
