import type { EntityManager } from "typeorm";
import type { Product } from "../../entities/product.entity.js";
import { classifyError } from "../db/postgres-errors.js";
import { InsufficientStockError, NotFoundError, ValidationError } from "../errors.js";
import { addOnHand, findProduct } from "./product-store.js";
import { type ProductView, renderProduct } from "./product-view.js";

/**
 * Relative, atomic stock adjustment (restock or write-off). One conditional
 * UPDATE: concurrent adjustments all apply, none is lost, and none may take
 * on_hand below reserved or below zero (409 insufficient_stock). Runs in
 * the caller's transaction.
 */
export async function adjustStock(m: EntityManager, sku: string, input: { delta: number; reason: string }): Promise<ProductView> {
  let row: Product | undefined;
  try {
    row = await addOnHand(m, sku, input.delta, input.reason);
  } catch (err) {
    if (classifyError(err) === "numeric_out_of_range") {
      throw new ValidationError([{ path: "delta", message: "would take onHand past its maximum (2147483647)" }]);
    }
    throw err;
  }
  if (row) return renderProduct(row);
  const current = await findProduct(m, sku);
  if (!current) throw new NotFoundError(`Product ${sku}`);
  throw new InsufficientStockError(
    `Adjusting onHand ${current.onHand} by ${input.delta} would leave it below reserved (${current.reserved}) or zero.`,
  );
}
