import type { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDataSource } from "../../ormconfig.js";
import { inTransaction } from "../../src/db/in-transaction.js";
import { classifyError } from "../../src/db/postgres-errors.js";
import { sql } from "../../src/db/sql.js";
import { withRetry } from "../../src/db/with-retry.js";
import { InternalConflictError } from "../../src/errors.js";
import { createTestDatabase } from "../support/test-database.js";

let ds: DataSource;
let drop: () => Promise<void>;

beforeAll(async () => {
  const db = await createTestDatabase();
  drop = db.drop;
  ds = createDataSource(db.url, { poolSize: 6, connectTimeoutMs: 5000, statementTimeoutMs: 20000, lockTimeoutMs: 20000 });
  await ds.initialize();
  await ds.query(`CREATE TABLE retry_probe (id int PRIMARY KEY, n int NOT NULL CHECK (n >= 0))`);
  await ds.query(`INSERT INTO retry_probe VALUES (1, 0), (2, 0)`);
});
afterAll(async () => {
  await ds.destroy();
  await drop();
});

const fastPolicy = { attempts: 5, baseDelayMs: 1, maxDelayMs: 10, maxTotalMs: 10000 };

describe("withRetry against real PostgreSQL", () => {
  it("when two transactions deadlock, then PostgreSQL aborts one with 40P01 and the retry completes it", async () => {
    const attempts: number[] = [];
    let bothHoldFirstLock!: () => void;
    const barrier = new Promise<void>((r) => (bothHoldFirstLock = r));
    let holding = 0;
    // Each transaction locks one row, waits until the other holds its row,
    // then asks for the other's row: a genuine deadlock on the first attempt.
    const txn = (first: number, second: number, tag: number) =>
      inTransaction(
        ds,
        async (m) => {
          attempts.push(tag);
          await sql(m, `UPDATE retry_probe SET n = n + 1 WHERE id = $1`, [first]);
          if (++holding === 2) bothHoldFirstLock();
          await barrier;
          await sql(m, `UPDATE retry_probe SET n = n + 1 WHERE id = $1`, [second]);
        },
        { retry: fastPolicy },
      );
    await Promise.all([txn(1, 2, 1), txn(2, 1, 2)]);
    // One of the two ran twice: the deadlock victim was retried as a whole.
    expect(attempts.length).toBe(3);
    const rows = await ds.query(`SELECT id, n FROM retry_probe ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, n: 2 },
      { id: 2, n: 2 },
    ]);
  });

  it("when a transaction fails with 40001, then it is retried until it succeeds", async () => {
    let calls = 0;
    const result = await inTransaction(
      ds,
      async (m) => {
        calls++;
        if (calls < 3) await sql(m, `DO $$ BEGIN RAISE EXCEPTION 'probe' USING ERRCODE = '40001'; END $$`);
        return "done";
      },
      { retry: fastPolicy },
    );
    expect(result).toBe("done");
    expect(calls).toBe(3);
  });

  it("when a statement violates a unique key (23505), then it is not retried", async () => {
    let calls = 0;
    const err = await inTransaction(
      ds,
      async (m) => {
        calls++;
        await sql(m, `INSERT INTO retry_probe VALUES (1, 0)`);
      },
      { retry: fastPolicy },
    ).catch((e: unknown) => e);
    expect(classifyError(err)).toBe("unique_violation");
    expect(calls).toBe(1);
  });

  it("when a statement violates a CHECK (23514), then it is not retried", async () => {
    let calls = 0;
    const err = await inTransaction(
      ds,
      async (m) => {
        calls++;
        await sql(m, `UPDATE retry_probe SET n = -1 WHERE id = 1`);
      },
      { retry: fastPolicy },
    ).catch((e: unknown) => e);
    expect(classifyError(err)).toBe("check_violation");
    expect(calls).toBe(1);
  });

  it("when an internal conflict keeps happening, then it gives up after the attempt limit and rethrows it", async () => {
    let calls = 0;
    const err = await withRetry(async () => {
      calls++;
      throw new InternalConflictError("probe");
    }, fastPolicy).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalConflictError);
    expect(calls).toBe(fastPolicy.attempts);
  });

  it("when the time budget is spent, then no further attempt starts", async () => {
    let calls = 0;
    const started = Date.now();
    await withRetry(
      async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 30));
        throw new InternalConflictError("probe");
      },
      { attempts: 100, baseDelayMs: 1, maxDelayMs: 1, maxTotalMs: 100 },
    ).catch(() => undefined);
    expect(calls).toBeLessThan(10);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("when an ordinary error is thrown, then it is not retried", async () => {
    let calls = 0;
    await withRetry(async () => {
      calls++;
      throw new Error("bug");
    }, fastPolicy).catch(() => undefined);
    expect(calls).toBe(1);
  });
});
