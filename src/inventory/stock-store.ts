import type { EntityManager } from "typeorm";
import { sql } from "../db/sql.js";
import { concurrencyMetrics } from "../metrics/registry.js";

/**
 * SQL that moves reserved and sold stock. Every statement here first locks
 * the product rows it touches with one `SELECT ... ORDER BY sku FOR UPDATE`,
 * so any two transactions take their product locks in the same order and
 * cannot deadlock on each other, whatever order their lines came in. The
 * CHECK (0 <= reserved <= on_hand) backs every statement.
 */
export type StockLine = { sku: string; quantity: number };

export type ReservationCheck = {
  ok: boolean;
  lines: { sku: string; delta: number; available: number | null; priceCents: number | null }[];
};

/** Sums quantities per SKU (callers may pass the same SKU twice, as old and new lines). */
export function deltasBySku(entries: [string, number][]): { skus: string[]; deltas: number[] } {
  const bySku = new Map<string, number>();
  for (const [sku, d] of entries) bySku.set(sku, (bySku.get(sku) ?? 0) + d);
  const skus = [...bySku.keys()].sort();
  return { skus, deltas: skus.map((s) => bySku.get(s)!) };
}

/**
 * Moves `reserved` by a signed delta per SKU, all or nothing, in one
 * statement: lock (SKU order), check that every SKU exists and every new
 * reserved stays within 0..on_hand, and only then update. `ok: false` means
 * nothing changed; `available` says what each SKU had.
 */
export async function applyReservationDeltas(m: EntityManager, entries: [string, number][], path: string): Promise<ReservationCheck> {
  const { skus, deltas } = deltasBySku(entries);
  if (skus.length === 0) return { ok: true, lines: [] };
  const end = concurrencyMetrics.lockWait.startTimer({ path });
  const r = await sql<{ sku: string; delta: number; available: number | null; price_cents: number | null; ok: boolean }>(
    m,
    `WITH req AS (SELECT * FROM unnest($1::text[], $2::int[]) AS r(sku, delta)),
     locked AS (
       SELECT p.sku, p.on_hand, p.reserved, p.price_cents FROM products p
        WHERE p.sku = ANY($1::text[]) ORDER BY p.sku FOR UPDATE),
     verdict AS (
       SELECT count(*) = cardinality($1::text[])
              AND coalesce(bool_and(l.reserved + r.delta BETWEEN 0 AND l.on_hand), false) AS ok
         FROM locked l JOIN req r USING (sku)),
     changed AS (
       UPDATE products p
          SET reserved = p.reserved + r.delta, version = p.version + 1, updated_at = now()
         FROM req r
        WHERE p.sku = ANY($1::text[]) AND p.sku = r.sku AND r.delta <> 0 AND (SELECT ok FROM verdict)
       RETURNING p.sku)
     SELECT r.sku, r.delta, l.on_hand - l.reserved AS available, l.price_cents,
            (SELECT ok FROM verdict) AS ok, (SELECT count(*) FROM changed) AS changed
       FROM req r LEFT JOIN locked l USING (sku)
      ORDER BY r.sku`,
    [skus, deltas],
  );
  end();
  return {
    ok: r.rows[0]?.ok ?? false,
    lines: r.rows.map((x) => ({ sku: x.sku, delta: x.delta, available: x.available, priceCents: x.price_cents })),
  };
}
