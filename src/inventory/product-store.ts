import type { EntityManager } from "typeorm";
import { sql, sqlOne } from "../db/sql.js";

/** All SQL about products and their stock, in one place. */
export type ProductRow = {
  sku: string;
  name: string;
  price_cents: number;
  on_hand: number;
  reserved: number;
  version: number;
  created_at: Date;
  updated_at: Date;
};

export type ProductView = {
  sku: string;
  name: string;
  priceCents: number;
  onHand: number;
  reserved: number;
  available: number;
  version: number;
  createdAt: string;
  updatedAt: string;
};

export function toProductView(r: ProductRow): ProductView {
  return {
    sku: r.sku,
    name: r.name,
    priceCents: r.price_cents,
    onHand: r.on_hand,
    reserved: r.reserved,
    available: r.on_hand - r.reserved,
    version: r.version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export async function insertProduct(
  m: EntityManager,
  p: { sku: string; name: string; priceCents: number; onHand: number },
): Promise<ProductRow | undefined> {
  // ON CONFLICT DO NOTHING: an existing SKU is an answer (409), not an error to classify.
  return sqlOne<ProductRow>(
    m,
    `INSERT INTO products (sku, name, price_cents, on_hand) VALUES ($1, $2, $3, $4)
     ON CONFLICT (sku) DO NOTHING RETURNING *`,
    [p.sku, p.name, p.priceCents, p.onHand],
  );
}

export async function findProduct(m: EntityManager, sku: string): Promise<ProductRow | undefined> {
  return sqlOne<ProductRow>(m, `SELECT * FROM products WHERE sku = $1`, [sku]);
}

export async function listProducts(m: EntityManager, afterSku: string | undefined, limit: number): Promise<ProductRow[]> {
  const r = await sql<ProductRow>(m, `SELECT * FROM products WHERE ($1::text IS NULL OR sku > $1) ORDER BY sku LIMIT $2`, [
    afterSku ?? null,
    limit,
  ]);
  return r.rows;
}

/**
 * Relative stock change as one conditional statement: it can never lose a
 * concurrent adjustment (no read-modify-write in Node) and never breaks
 * 0 <= reserved <= on_hand (the WHERE clause, backed by the CHECK). The audit
 * row is written by the same statement. No row back: unknown SKU or not allowed.
 */
export async function addOnHand(m: EntityManager, sku: string, delta: number, reason: string): Promise<ProductRow | undefined> {
  return sqlOne<ProductRow>(
    m,
    `WITH changed AS (
       UPDATE products
          SET on_hand = on_hand + $2, version = version + 1, updated_at = now()
        WHERE sku = $1 AND on_hand + $2 >= reserved AND on_hand + $2 >= 0
       RETURNING *
     ), audit AS (
       INSERT INTO stock_adjustments (sku, delta, reason, on_hand_after)
       SELECT sku, $2, $3, on_hand FROM changed
     )
     SELECT * FROM changed`,
    [sku, delta, reason],
  );
}
