import pg from "pg";
import type { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrations } from "../../migrations/index.js";
import { createDataSource } from "../../ormconfig.js";
import { migrate } from "../../src/db/migrate.js";
import { loadSqlFunctions } from "../../src/db/sql-functions.js";
import { createTestDatabase } from "../support/test-database.js";

// SQL functions are source files (src/**/*.sql) applied at every migrate.
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

type Proc = { proname: string; prosrc: string; proconfig: string[] | null; n: number };
const functionsInDatabase = async (d: DataSource) =>
  (await d.query(
    `SELECT proname, min(prosrc) AS prosrc, min(proconfig::text)::text[] AS proconfig, count(*)::int AS n
       FROM pg_proc WHERE pronamespace = current_schema()::regnamespace AND proname LIKE 'orderlock\\_%' GROUP BY proname ORDER BY proname`,
  )) as Proc[];

const boundTriggers = async (d: DataSource) =>
  (
    (await d.query(
      `SELECT t.tgname || ' ON ' || t.tgrelid::regclass::text || ' → ' || p.proname AS bound
         FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE NOT t.tgisinternal AND p.proname LIKE 'orderlock\\_%'`,
    )) as { bound: string }[]
  ).map((r) => r.bound);

describe("SQL functions as source files", () => {
  it("when migrated, then every function in the database is exactly its source file (body and settings), once, and there is no other", async () => {
    const sources = loadSqlFunctions();
    expect(sources.length).toBeGreaterThanOrEqual(7);
    const inDb = await functionsInDatabase(ds);
    expect(inDb.map((f) => f.proname)).toEqual(sources.map((s) => s.name).sort());
    for (const s of sources) {
      const f = inDb.find((x) => x.proname === s.name)!;
      expect(f.n, s.name).toBe(1);
      expect(f.prosrc, s.name).toBe(s.body);
      expect(f.proconfig ?? [], s.name).toEqual(s.settings);
    }
  });

  it("when a function in the database drifts from its file, or a stray one appears, then the next migrate puts the files' version back", async () => {
    await ds.query(`ALTER FUNCTION orderlock_append_events(text, uuid[]) RESET plan_cache_mode`);
    await ds.query(`UPDATE sql_functions SET checksum = repeat('0', 64) WHERE name = 'orderlock_append_events'`);
    await ds.query(`CREATE FUNCTION orderlock_stray() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$`);
    await ds.query(`CREATE FUNCTION orderlock_settle_payment(int) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$`); // a stale overload
    const result = await migrate(ds);
    expect(result.migrations).toEqual([]);
    expect(result.functions.sort()).toEqual(["orderlock_append_events", "orderlock_settle_payment", "orderlock_stray"]);
    const sources = loadSqlFunctions();
    const inDb = await functionsInDatabase(ds);
    expect(inDb.map((f) => f.proname)).toEqual(sources.map((s) => s.name).sort());
    expect(inDb.find((f) => f.proname === "orderlock_append_events")!.proconfig).toEqual(["plan_cache_mode=force_generic_plan"]);
    expect(inDb.every((f) => f.n === 1)).toBe(true);
  });

  it("when migrated, then every trigger a file binds executes that file's function, and no other trigger executes one", async () => {
    const declared = loadSqlFunctions().flatMap((s) => s.triggers.map((t) => `${t.name} ON ${t.table} → ${s.name}`));
    expect(declared).toContain("orders_status_transition ON orders → orderlock_guard_order_status");
    expect((await boundTriggers(ds)).sort()).toEqual(declared.sort());
  });

  it("when a trigger is dropped, or a file's trigger function is replaced, then the next migrate binds it again", async () => {
    await ds.query(`DROP TRIGGER orders_status_transition ON orders`);
    expect((await migrate(ds)).functions).toEqual(["orderlock_guard_order_status"]);
    await ds.query(`UPDATE sql_functions SET checksum = repeat('0', 64) WHERE name = 'orderlock_guard_order_status'`);
    expect((await migrate(ds)).functions).toEqual(["orderlock_guard_order_status"]);
    expect(await boundTriggers(ds)).toContain("orders_status_transition ON orders → orderlock_guard_order_status");
  });

  it("when nothing changed, then migrate applies nothing", async () => {
    expect(await migrate(ds)).toEqual({ migrations: [], functions: [] });
  });

  it("when three instances migrate an empty database at the same moment, then all succeed and each migration and function is applied once", async () => {
    const db = await createTestDatabase();
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      // An empty database: no tables, no functions (the template is migrated; start from nothing).
      await admin.query(`DROP SCHEMA public CASCADE; CREATE SCHEMA public`);
      const instances = [createDataSource(db.url), createDataSource(db.url), createDataSource(db.url)];
      await Promise.all(instances.map((d) => d.initialize()));
      const results = await Promise.all(instances.map((d) => migrate(d)));
      await Promise.all(instances.map((d) => d.destroy()));
      const all = migrations.map((m) => m.name);
      expect(results.flatMap((r) => r.migrations)).toEqual(all); // one instance applied them all, the others none
      expect(results.flatMap((r) => r.functions).sort()).toEqual(
        loadSqlFunctions()
          .map((s) => s.name)
          .sort(),
      );
      const recorded = await admin.query(`SELECT name FROM migrations ORDER BY id`);
      expect(recorded.rows.map((r) => r.name)).toEqual(all);
    } finally {
      await admin.end();
      await db.drop();
    }
  });

  it("when the installer applies, then dependencies come before the functions that call them", () => {
    const order = loadSqlFunctions().map((s) => s.name);
    expect(order.indexOf("orderlock_move_reservations")).toBeLessThan(order.indexOf("orderlock_place_order"));
    expect(order.indexOf("orderlock_place_order")).toBeLessThan(order.indexOf("orderlock_place_orders"));
    expect(order.indexOf("orderlock_record_purchases")).toBeLessThan(order.indexOf("orderlock_settle_payments"));
  });
});
