import { afterAll, describe, expect, it } from "vitest";
import { newServiceConfig, removeDataDir, SERVICE_ADMIN_KEY, startService, type ServiceConfig } from "../support/service-process.js";

const admin = { Authorization: `Bearer ${SERVICE_ADMIN_KEY}`, "Content-Type": "application/json" };
let cfg: ServiceConfig | undefined;
afterAll(() => {
  if (cfg) removeDataDir(cfg.dataDir);
});

describe("the service process", () => {
  it("when killed with SIGKILL and started again, then it is ready with its data intact; SIGTERM then exits 0 and stops postgres", async () => {
    cfg = await newServiceConfig();
    const first = await startService(cfg);
    const created = await fetch(`${first.url}/v1/products`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ sku: "CRASH-1", name: "Survivor", priceCents: 100, onHand: 7 }),
    });
    expect(created.status).toBe(201);
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
