import type { EntityManager } from "typeorm";
import { sql } from "../db/sql.js";
import { concurrencyMetrics } from "../metrics/registry.js";

export type StockLine = { sku: string; quantity: number };

/** One SKU's verdict from orderlock_move_reservations. */
export type SkuAllowance = {
  sku: string;
  known: boolean;
  requested: number;
  available: number;
  perCustomerLimit: number | null;
};
export type Reservation = { ok: boolean; lines: SkuAllowance[] };

/**
 * Moves an order's hold from `from` lines to `to` lines, all or nothing, in
 * the caller's transaction, through the one definition of reserving and
 * releasing stock (move-reservations.sql, which the hot place-order path
 * calls too). `ok: false` means nothing moved; each line says why.
 */
export async function moveReservations(
  m: EntityManager,
  move: { from: StockLine[]; to: StockLine[]; customerId?: string; cap?: number; exceptOrderId?: string },
  path: string,
): Promise<Reservation> {
  const skus = [...move.from.map((l) => l.sku), ...move.to.map((l) => l.sku)];
  if (skus.length === 0) return { ok: true, lines: [] };
  const end = concurrencyMetrics.lockWait.startTimer({ path });
  const { rows } = await sql<{
    sku: string;
    known: boolean;
    requested: number;
    available: number | null;
    per_customer_limit: number | null;
    ok: boolean;
  }>(m, `SELECT * FROM orderlock_move_reservations($1::text[], $2::int[], $3::int[], $4::uuid, $5::int, $6::uuid)`, [
    skus,
    [...move.from.map((l) => l.quantity), ...move.to.map(() => 0)],
    [...move.from.map(() => 0), ...move.to.map((l) => l.quantity)],
    move.customerId ?? null,
    move.cap ?? 0,
    move.exceptOrderId ?? null,
  ]);
  end();
  return {
    ok: rows[0]?.ok ?? false,
    lines: rows.map((r) => ({
      sku: r.sku,
      known: r.known,
      requested: r.requested,
      available: r.available ?? 0,
      perCustomerLimit: r.per_customer_limit,
    })),
  };
}

/**
 * Gives held stock back. Callers hold the order rows' locks and have just
 * moved the orders out of a holding status, so this runs exactly once per
 * hold. A failure here is a broken invariant, not a user error.
 */
export async function releaseStock(m: EntityManager, lines: StockLine[], path = "release"): Promise<void> {
  const moved = await moveReservations(m, { from: lines, to: [] }, path);
  if (!moved.ok) throw new Error(`invariant broken: cannot release ${JSON.stringify(lines)}`);
}
