import type { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Product } from "../../entities/product.entity.js";
import { createDataSource } from "../../ormconfig.js";
import { compareAndSwap } from "../../src/db/compare-and-swap.js";
import { inTransaction } from "../../src/db/in-transaction.js";
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

async function seed(sku: string) {
  await ds.query(`INSERT INTO products (sku, name, price_cents, on_hand) VALUES ($1, 'A', 100, 5)`, [sku]);
}

describe("compareAndSwap", () => {
  it("when the expected version is current, then it applies the change and bumps the version", async () => {
    await seed("CAS-1");
    const r = await inTransaction(ds, (m) => compareAndSwap(m, Product, "CAS-1", 1, { name: "B" }));
    expect(r).toMatchObject({ ok: true, row: { name: "B", version: 2 } });
  });

  it("when the expected version is stale, then nothing changes and it reports the conflict", async () => {
    await seed("CAS-2");
    await inTransaction(ds, (m) => compareAndSwap(m, Product, "CAS-2", 1, { name: "first" }));
    const r = await inTransaction(ds, (m) => compareAndSwap(m, Product, "CAS-2", 1, { name: "second" }));
    expect(r).toEqual({ ok: false });
    const [row] = await ds.query(`SELECT name, version FROM products WHERE sku = 'CAS-2'`);
    expect(row).toEqual({ name: "first", version: 2 });
  });

  it("when two writers race from the same version, then exactly one wins", async () => {
    await seed("CAS-3");
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => inTransaction(ds, (m) => compareAndSwap(m, Product, "CAS-3", 1, { name: `w${i}` }))),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    const [row] = await ds.query(`SELECT version FROM products WHERE sku = 'CAS-3'`);
    expect(row.version).toBe(2);
  });

  it("why it exists: TypeORM save() with a stale entity silently overwrites a newer write", async () => {
    await seed("CAS-4");
    const repo = ds.getRepository(Product);
    const stale = await repo.findOneByOrFail({ sku: "CAS-4" });
    await inTransaction(ds, (m) => compareAndSwap(m, Product, "CAS-4", 1, { name: "newer" }));
    stale.name = "lost update";
    await repo.save(stale); // no version predicate: succeeds against version 2
    const [row] = await ds.query(`SELECT name FROM products WHERE sku = 'CAS-4'`);
    expect(row.name).toBe("lost update"); // the hazard compareAndSwap prevents
  });
});
