import type { EntityManager } from "typeorm";
import { SkuExistsError } from "../errors.js";
import { insertProduct, type ProductView, toProductView } from "./product-store.js";

/** Creates a product with its initial stock. One INSERT; an existing SKU → 409 sku_exists. */
export async function createProduct(
  m: EntityManager,
  input: { sku: string; name: string; priceCents: number; onHand: number },
): Promise<ProductView> {
  const row = await insertProduct(m, input);
  if (!row) throw new SkuExistsError(input.sku);
  return toProductView(row);
}
