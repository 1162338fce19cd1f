import type { DataSource } from "typeorm";
import { compareAndSwap } from "../db/compare-and-swap.js";
import { inTransaction } from "../db/in-transaction.js";
import { NotFoundError, VersionConflictError } from "../errors.js";
import { concurrencyMetrics } from "../metrics/registry.js";
import { findProduct, type ProductRow, type ProductView, toProductView } from "./product-store.js";

/**
 * Versioned edit of a product's name and price. One compare-and-swap on
 * `version`: a stale expected version changes nothing and answers 409 with
 * the current representation. The client's stale version is never retried,
 * so the transaction runs once. Locks: the product row, for one statement.
 */
export function updateProduct(
  ds: DataSource,
  sku: string,
  expectedVersion: number,
  changes: { name?: string; priceCents?: number },
): Promise<ProductView> {
  return inTransaction(
    ds,
    async (m) => {
      const set: Record<string, unknown> = {};
      if (changes.name !== undefined) set.name = changes.name;
      if (changes.priceCents !== undefined) set.price_cents = changes.priceCents;
      const result = await compareAndSwap<ProductRow>(m, "products", sku, expectedVersion, set);
      if (result.ok) return toProductView(result.row);
      const current = await findProduct(m, sku);
      if (!current) throw new NotFoundError(`Product ${sku}`);
      concurrencyMetrics.versionConflicts.inc({ resource: "product", source: "client" });
      throw new VersionConflictError(current.version, toProductView(current));
    },
    { retry: false },
  );
}
