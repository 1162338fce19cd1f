import type { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDataSource } from "../../ormconfig.js";
import { callOnce, poolOf } from "../../src/db/sql.js";
import { createTestDatabase } from "../support/test-database.js";

let ds: DataSource;
let drop: () => Promise<void>;

beforeAll(async () => {
  const db = await createTestDatabase();
  drop = db.drop;
  ds = createDataSource(db.url);
  await ds.initialize();
});
afterAll(async () => {
  await ds.destroy();
  await drop();
});

const backendPid = async () => (await callOnce<{ pid: number }>(ds, `SELECT pg_backend_pid() AS pid`)).rows[0].pid;

describe("callOnce and the pool's connections", () => {
  it("when the server refuses a statement, then its connection stays in the pool and serves the next call", async () => {
    const before = await backendPid();
    const opened = poolOf(ds).totalCount;
    for (let i = 0; i < 5; i++) {
      await expect(callOnce(ds, `SELECT 1 / $1::int`, [0])).rejects.toMatchObject({ code: "22012" });
      await expect(callOnce(ds, `DO $$ BEGIN RAISE EXCEPTION 'over' USING ERRCODE = 'OL429'; END $$`)).rejects.toMatchObject({
        code: "OL429",
      });
    }
    // The pool hands out its most recently released connection first: the same one, not a new one.
    expect({ pid: await backendPid(), opened: poolOf(ds).totalCount }).toEqual({ pid: before, opened });
  });

  it("when the connection fails during a call, then it is closed and the next call gets a working one", async () => {
    const before = await backendPid();
    await expect(callOnce(ds, `SELECT pg_terminate_backend(pg_backend_pid())`)).rejects.toThrow();
    const after = await backendPid();
    expect(after).not.toBe(before);
    const [row] = (await ds.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1`, [before])) as { n: number }[];
    expect(row.n).toBe(0);
  });
});
