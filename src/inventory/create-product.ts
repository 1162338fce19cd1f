import type { EntityManager } from "typeorm";
import { SkuExistsError } from "../errors.js";
import { insertProduct } from "./product-store.js";
import { type ProductView, renderProduct } from "./product-view.js";

/** Creates a product with its initial stock. One INSERT, in the caller's transaction; an existing SKU → 409 sku_exists. */
export async function createProduct(
  m: EntityManager,
  input: { sku: string; name: string; priceCents: number; onHand: number },
): Promise<ProductView> {
  const product = await insertProduct(m, input);
  if (!product) throw new SkuExistsError(input.sku);
  return renderProduct(product);
}
