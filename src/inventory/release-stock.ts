import type { EntityManager } from "typeorm";
import { applyReservationDeltas, type StockLine } from "./stock-store.js";

/**
 * Gives an order's held stock back. Callers hold the order row lock and have
 * just moved the order out of a holding status, so this runs exactly once per
 * hold. A failure here is a broken invariant, not a user error.
 */
export async function releaseStock(m: EntityManager, lines: StockLine[], path = "release"): Promise<void> {
  const check = await applyReservationDeltas(
    m,
    lines.map((l) => [l.sku, -l.quantity]),
    path,
  );
  if (!check.ok) throw new Error(`invariant broken: cannot release ${JSON.stringify(lines)}`);
}
