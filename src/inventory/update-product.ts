import type { EntityManager } from "typeorm";
import { Product } from "../../entities/product.entity.js";
import { compareAndSwap } from "../db/compare-and-swap.js";
import { NotFoundError, VersionConflictError } from "../errors.js";
import { concurrencyMetrics } from "../metrics/registry.js";
import { findProduct } from "./product-store.js";
import { type ProductView, renderProduct } from "./product-view.js";

/**
 * Versioned edit of a product's name and price, in the caller's transaction
 * (which must not retry: a client's stale version is its own to resolve).
 * One compare-and-swap on `version`: a stale expected version changes nothing
 * and answers 409 with the current representation. Locks: the product row,
 * for one statement.
 */
export async function updateProduct(
  m: EntityManager,
  sku: string,
  expectedVersion: number,
  changes: { name?: string; priceCents?: number },
): Promise<ProductView> {
  const set: Partial<Record<keyof Product, unknown>> = {};
  if (changes.name !== undefined) set.name = changes.name;
  if (changes.priceCents !== undefined) set.priceCents = changes.priceCents;
  const result = await compareAndSwap(m, Product, sku, expectedVersion, set);
  if (result.ok) return renderProduct(result.row);
  const current = await findProduct(m, sku);
  if (!current) throw new NotFoundError(`Product ${sku}`);
  concurrencyMetrics.versionConflicts.inc({ resource: "product", source: "client" });
  throw new VersionConflictError(current.version, renderProduct(current));
}
