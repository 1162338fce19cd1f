import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";

describe("deployment settings in the environment", () => {
  it("when only DATABASE_URL is set, then the direct URL is the same, no replica, lag limit 5 s, no drain delay", () => {
    const c = loadConfig({ DATABASE_URL: "postgres://a@db/x" });
    expect(c).toMatchObject({
      databaseUrl: "postgres://a@db/x",
      databaseDirectUrl: "postgres://a@db/x",
      replicaUrl: undefined,
      replicaMaxLagSeconds: 5,
      shutdownDrainMs: 0,
    });
  });

  it("when DATABASE_DIRECT_URL, DATABASE_REPLICA_URL, REPLICA_MAX_LAG_SECONDS and SHUTDOWN_DRAIN_MS are set, then they are used", () => {
    const c = loadConfig({
      DATABASE_URL: "postgres://a@pgbouncer:6432/x",
      DATABASE_DIRECT_URL: "postgres://a@db:5432/x",
      DATABASE_REPLICA_URL: "postgres://a@standby:5432/x",
      REPLICA_MAX_LAG_SECONDS: "2.5",
      SHUTDOWN_DRAIN_MS: "2000",
    });
    expect(c).toMatchObject({
      databaseDirectUrl: "postgres://a@db:5432/x",
      replicaUrl: "postgres://a@standby:5432/x",
      replicaMaxLagSeconds: 2.5,
      shutdownDrainMs: 2000,
    });
  });

  it("when REPLICA_MAX_LAG_SECONDS is 0 or negative, then start-up fails naming it", () => {
    expect(() => loadConfig({ REPLICA_MAX_LAG_SECONDS: "0" })).toThrow(/REPLICA_MAX_LAG_SECONDS/);
  });

  it("when EMBEDDED_PG_SHARED_BUFFERS_MB is unset, then the embedded PostgreSQL gets between 128 MB and 1 GB; when set, exactly that", () => {
    const byDefault = loadConfig({}).embeddedPgSharedBuffersMb;
    expect(byDefault).toBeGreaterThanOrEqual(128);
    expect(byDefault).toBeLessThanOrEqual(1024);
    expect(loadConfig({ EMBEDDED_PG_SHARED_BUFFERS_MB: "256" }).embeddedPgSharedBuffersMb).toBe(256);
  });
});
