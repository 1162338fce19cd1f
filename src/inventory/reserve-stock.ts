import type { EntityManager } from "typeorm";
import { OutOfStockError, ValidationError } from "../errors.js";
import { applyReservationDeltas, type StockLine } from "./stock-store.js";

/**
 * Changes the stock an order holds from `before` to `after` lines, all or
 * nothing: unknown SKU → 422, any shortfall → 409 out_of_stock listing every
 * short line, and then nothing moved. Returns each SKU's current price.
 */
export async function moveReservation(m: EntityManager, before: StockLine[], after: StockLine[]): Promise<Map<string, number>> {
  const entries: [string, number][] = [
    ...before.map((l): [string, number] => [l.sku, -l.quantity]),
    ...after.map((l): [string, number] => [l.sku, l.quantity]),
  ];
  const check = await applyReservationDeltas(m, entries, "change");
  if (check.ok) return new Map(check.lines.map((l) => [l.sku, l.priceCents!]));
  const unknown = check.lines.filter((l) => l.available === null);
  if (unknown.length > 0) {
    throw new ValidationError(unknown.map((l) => ({ path: `lines.${l.sku}`, message: `unknown SKU ${l.sku}` })));
  }
  const requested = new Map(after.map((l) => [l.sku, l.quantity]));
  const held = new Map(before.map((l) => [l.sku, l.quantity]));
  throw new OutOfStockError(
    check.lines
      .filter((l) => l.delta > 0 && l.available! < l.delta)
      .map((l) => ({ sku: l.sku, requested: requested.get(l.sku) ?? 0, available: l.available! + (held.get(l.sku) ?? 0) })),
  );
}
