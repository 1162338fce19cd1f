import { type EntityManager, MoreThan } from "typeorm";
import { Product } from "../../entities/product.entity.js";
import { asEntity, sqlOne } from "../db/sql.js";

/** All SQL about products and their stock, in one place (reserving and releasing: move-reservations.sql). */
export async function insertProduct(
  m: EntityManager,
  p: { sku: string; name: string; priceCents: number; onHand: number },
): Promise<Product | undefined> {
  // ON CONFLICT DO NOTHING: an existing SKU is an answer (409), not an error to classify.
  const row = await sqlOne(
    m,
    `INSERT INTO products (sku, name, price_cents, on_hand) VALUES ($1, $2, $3, $4)
     ON CONFLICT (sku) DO NOTHING RETURNING *`,
    [p.sku, p.name, p.priceCents, p.onHand],
  );
  return row && asEntity(m, Product, row);
}

export async function findProduct(m: EntityManager, sku: string): Promise<Product | null> {
  return m.findOneBy(Product, { sku });
}

export async function listProducts(m: EntityManager, afterSku: string | undefined, limit: number): Promise<Product[]> {
  return m.find(Product, { where: afterSku === undefined ? {} : { sku: MoreThan(afterSku) }, order: { sku: "ASC" }, take: limit });
}

/**
 * Relative stock change as one conditional statement: it can never lose a
 * concurrent adjustment (no read-modify-write in Node) and never breaks
 * 0 <= reserved <= on_hand (the WHERE clause, backed by the CHECK). The audit
 * row is written by the same statement. No row back: unknown SKU or not allowed.
 */
export async function addOnHand(m: EntityManager, sku: string, delta: number, reason: string): Promise<Product | undefined> {
  const row = await sqlOne(
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
  return row && asEntity(m, Product, row);
}
