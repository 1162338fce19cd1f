import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Every process the bench starts (load generators, raw-SQL drivers) runs
 * outside the bench's own process, so its CPU is not mistaken for the
 * service's and a crash in it cannot take the bench down. They are tracked
 * here so that a failure or Ctrl-C can stop them all before the service.
 */
const active = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  active.add(child);
  child.once("exit", () => active.delete(child));
  return child;
}

export function killActiveChildren(): void {
  for (const child of active) child.kill("SIGKILL");
}

/** A compiled sibling script, e.g. `benchScript("load-worker")` → dist/bench/load-worker.js. */
export function benchScript(name: string): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), `${name}.js`);
}

/** The open-file limit asked for where a child needs many sockets; the hard limit where it is lower. */
const OPEN_FILES_WANTED = 65536;

/**
 * `command args` as a command line that runs it through sh with the open-file
 * limit raised first: to OPEN_FILES_WANTED (as root the hard limit rises
 * too), else to the hard limit. A client needs a descriptor per connection,
 * and a shell's soft limit is often 1024, too few for wrk or pgbench at 1,000
 * connections. (Node raises its own soft limit to the hard one at start, so
 * a Node worker gains only where root can lift the hard limit.) Throws before
 * anything starts when the limit cannot reach `needed`.
 */
export function withOpenFiles(needed: number, command: string, args: string[]): { command: string; args: string[] } {
  const raise = `ulimit -n ${Math.max(needed, OPEN_FILES_WANTED)} 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null`;
  const limit = execFileSync("/bin/sh", ["-c", `${raise}; ulimit -n`])
    .toString()
    .trim();
  if (limit !== "unlimited" && Number(limit) < needed) {
    throw new Error(
      `${path.basename(command)} needs about ${needed} open files (one per connection), but this user may open only ${limit}: raise the hard limit (ulimit -Hn, /etc/security/limits.conf) or run the bench as root`,
    );
  }
  return { command: "/bin/sh", args: ["-c", `${raise}; exec "$@"`, "sh", command, ...args] };
}

/**
 * Runs `node <script>`, writes `input` as JSON to its stdin and resolves with
 * the JSON object it prints as the last line of its stdout. Its stderr goes
 * to ours, so a worker's crash explains itself. `openFiles`: the descriptors
 * it needs (withOpenFiles).
 */
export function runJsonWorker<I, O>(script: string, input: I, timeoutMs: number, openFiles?: number): Promise<O> {
  return new Promise((resolve, reject) => {
    const line =
      openFiles === undefined ? { command: process.execPath, args: [script] } : withOpenFiles(openFiles, process.execPath, [script]);
    const child = track(spawn(line.command, line.args, { stdio: ["pipe", "pipe", "inherit"] }));
    let stdout = "";
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${path.basename(script)} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${path.basename(script)} exited with ${code ?? signal}`));
        return;
      }
      const last = stdout.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(last) as O);
      } catch {
        reject(new Error(`${path.basename(script)} printed no JSON result: ${stdout.slice(-500)}`));
      }
    });
    child.stdin!.end(JSON.stringify(input));
  });
}

/** For the worker side: the JSON document written to our stdin. */
export async function readJsonStdin<T>(): Promise<T> {
  let text = "";
  for await (const chunk of process.stdin) text += String(chunk);
  return JSON.parse(text) as T;
}
