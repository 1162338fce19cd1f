import { afterAll, describe, expect, it } from "vitest";
import { newServiceConfig, removeDataDir, SERVICE_ADMIN_KEY, type ServiceConfig, startService } from "../support/service-process.js";

const admin = { Authorization: `Bearer ${SERVICE_ADMIN_KEY}`, "Content-Type": "application/json" };
let cfg: ServiceConfig | undefined;
afterAll(() => {
  if (cfg) removeDataDir(cfg.dataDir);
});

describe("the service process", () => {
  it("when killed with SIGKILL and started again, then it is ready with its data intact; SIGTERM then exits 0 and stops postgres", async () => {
    cfg = await newServiceConfig({ EMBEDDED_PG_SHARED_BUFFERS_MB: "160" });
    const first = await startService(cfg);
    const created = await fetch(`${first.url}/v1/products`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ sku: "CRASH-1", name: "Survivor", priceCents: 100, onHand: 7 }),
    });
    expect(created.status).toBe(201);
    // Its postgres runs with the shared_buffers it was configured with.
    const opts = (await import("node:fs")).readFileSync(`${cfg.dataDir}/pg/postmaster.opts`, "utf8");
    expect(opts).toContain("shared_buffers=160MB");
    await first.kill9(); // its postgres lives on, holding the port and the data directory

    const second = await startService(cfg);
    const read = await fetch(`${second.url}/v1/products/CRASH-1`, { headers: admin });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ sku: "CRASH-1", name: "Survivor", onHand: 7, version: 1 });
    expect(second.output()).toContain("orphaned postgres");

    const code = await second.stop();
    expect(code).toBe(0);
    // The embedded database stopped too: nothing listens on its port any more.
    const pid = await import("node:fs").then((fs) => fs.existsSync(`${cfg!.dataDir}/pg/postmaster.pid`));
    expect(pid).toBe(false);
  });
});

describe("npm start", () => {
  it("when npm start gets SIGTERM (as from a supervisor), then the service drains, stops its postgres and npm exits 0", async () => {
    const { spawn } = await import("node:child_process");
    const fs = await import("node:fs");
    const own = await newServiceConfig();
    try {
      const npm = spawn("npm", ["start", "--silent"], {
        env: {
          ...process.env,
          DATABASE_URL: "",
          DATA_DIR: own.dataDir,
          PORT: String(own.port),
          EMBEDDED_PG_PORT: String(own.pgPort),
          ADMIN_API_KEY: SERVICE_ADMIN_KEY,
          WEBHOOK_SECRET: "whsec_lifecycle_test_secret_0123",
          LOG_LEVEL: "warn",
        },
        stdio: "ignore",
      });
      const exited = new Promise<number | null>((resolve) => npm.once("exit", (code) => resolve(code)));
      const deadline = Date.now() + 90_000;
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${own.port}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ok) break;
        if (Date.now() > deadline) throw new Error("npm start: not ready in time");
        await new Promise((r) => setTimeout(r, 200));
      }
      npm.kill("SIGTERM");
      expect(await exited).toBe(0);
      // Nothing outlived npm: the port is free and postgres has removed its pid file.
      expect(
        await fetch(`http://127.0.0.1:${own.port}/healthz`).then(
          () => "answered",
          () => "refused",
        ),
      ).toBe("refused");
      expect(fs.existsSync(`${own.dataDir}/pg/postmaster.pid`)).toBe(false);
    } finally {
      removeDataDir(own.dataDir);
    }
  }, 120_000);
});
