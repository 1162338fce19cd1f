import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A real HAProxy in front of N service instances, from the template in
 * ops/haproxy/haproxy.cfg.template, in the foreground (-db) as a child of
 * ours. Used by the bench's --instances=N and test/topology/haproxy.test.ts.
 */
export type Haproxy = { baseUrl: string; pid: number | undefined; configFile: string; output(): string; stop(): Promise<void> };

const repoRoot = (() => {
  // From bench/ (tsx, vitest) or dist/bench/ (compiled): the directory holding ops/.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, "ops", "haproxy"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error("ops/haproxy not found above bench/");
    dir = up;
  }
  return dir;
})();

function renderHaproxyConfig(bind: string, instancePorts: number[]): string {
  const template = fs.readFileSync(path.join(repoRoot, "ops", "haproxy", "haproxy.cfg.template"), "utf8");
  const servers = instancePorts.map((port, i) => `    server instance${i + 1} 127.0.0.1:${port}`).join("\n");
  return template.replaceAll("{{BIND}}", bind).replaceAll("{{SERVERS}}", servers);
}

export async function startHaproxy(options: { binary?: string; port: number; instancePorts: number[]; dir: string }): Promise<Haproxy> {
  fs.mkdirSync(options.dir, { recursive: true });
  const configFile = path.join(options.dir, "haproxy.cfg");
  fs.writeFileSync(configFile, renderHaproxyConfig(`127.0.0.1:${options.port}`, options.instancePorts));
  const child: ChildProcess = spawn(options.binary ?? "haproxy", ["-db", "-f", configFile], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("error", () => {});
  const baseUrl = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + 10000;
  // Listening, and every instance passed its health checks (rise 2 × 500 ms).
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited during start:\n${out}`);
    if (await listening(options.port)) {
      try {
        const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) break;
      } catch {
        // not yet
      }
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`haproxy not serving within 10 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // Until every server is up (rise 2), leastconn may still send all to one.
  await new Promise((r) => setTimeout(r, 1200));
  return {
    baseUrl,
    pid: child.pid,
    configFile,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
