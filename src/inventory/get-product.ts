import type { EntityManager } from "typeorm";
import { NotFoundError } from "../errors.js";
import { decodeCursor, encodeCursor } from "../pagination.js";
import { findProduct, listProducts as selectProducts } from "./product-store.js";
import { type ProductView, renderProduct } from "./product-view.js";

export async function getProductOrThrow(m: EntityManager, sku: string): Promise<ProductView> {
  const product = await findProduct(m, sku);
  if (!product) throw new NotFoundError(`Product ${sku}`);
  return renderProduct(product);
}

/** Products in SKU order; the cursor is the last SKU of the previous page. */
export async function listProducts(m: EntityManager, q: { limit: number; cursor?: string }) {
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, "cursor")[0];
  const rows = await selectProducts(m, after, q.limit + 1);
  const page = rows.slice(0, q.limit);
  const nextCursor = rows.length > q.limit ? encodeCursor([page[page.length - 1].sku]) : null;
  return { items: page.map(renderProduct), nextCursor };
}
