import type { EntityManager } from "typeorm";
import { classifyError } from "../db/postgres-errors.js";
import { InsufficientStockError, NotFoundError, ValidationError } from "../errors.js";
import { addOnHand, findProduct, type ProductView, toProductView } from "./product-store.js";

/**
 * Relative, atomic stock adjustment (restock or write-off). One conditional
 * UPDATE: concurrent adjustments all apply, none is lost, and none may take
 * on_hand below reserved or below zero (409 insufficient_stock).
 */
export async function adjustStock(m: EntityManager, sku: string, input: { delta: number; reason: string }): Promise<ProductView> {
  let row;
  try {
    row = await addOnHand(m, sku, input.delta, input.reason);
  } catch (err) {
    if (classifyError(err) === "numeric_out_of_range") {
      throw new ValidationError([{ path: "delta", message: "would take onHand past its maximum (2147483647)" }]);
    }
    throw err;
  }
  if (row) return toProductView(row);
  const current = await findProduct(m, sku);
  if (!current) throw new NotFoundError(`Product ${sku}`);
  throw new InsufficientStockError(
    `Adjusting onHand ${current.on_hand} by ${input.delta} would leave it below reserved (${current.reserved}) or zero.`,
  );
}
