import { z } from "zod";
import type { Order } from "../../entities/order.entity.js";
import type { OrderLine } from "../../entities/order-line.entity.js";

const timestamp = z.iso.datetime();
export const ORDER_STATUSES = ["reserved", "pending_payment", "paid", "cancelled", "expired", "refunded"] as const;

/** An order as the API shows it; the OpenAPI document describes it with this schema. */
export const orderView = z
  .object({
    id: z.uuid(),
    customerId: z.uuid(),
    status: z.enum(ORDER_STATUSES),
    lines: z.array(z.object({ sku: z.string(), quantity: z.int(), unitPriceCents: z.int(), lineTotalCents: z.int() })),
    totalCents: z.int(),
    refundedCents: z.int(),
    version: z.int(),
    reservedUntil: timestamp.nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({
    id: "Order",
    examples: [
      {
        id: "0b8f6a52-4d1e-4f7a-9a37-3f0c2d9a1e55",
        customerId: "5c2e9f0a-8b7d-4e61-a3c4-7d1f0e2b9a68",
        status: "reserved",
        lines: [{ sku: "WIDGET-1", quantity: 2, unitPriceCents: 1250, lineTotalCents: 2500 }],
        totalCents: 2500,
        refundedCents: 0,
        version: 1,
        reservedUntil: "2026-12-01T10:17:11.000Z",
        createdAt: "2026-12-01T10:02:11.000Z",
        updatedAt: "2026-12-01T10:02:11.000Z",
      },
    ],
  });
export type OrderView = z.infer<typeof orderView>;

export type LineFacts = Pick<OrderLine, "sku" | "quantity" | "unitPriceCents" | "lineTotalCents">;
/**
 * An order as stored, with its lines. `overdue`: still `reserved` in the
 * database but past its deadline by the database clock (the sweeper has not
 * expired it yet).
 */
export type OrderFacts = Omit<Order, "lines"> & { lines: LineFacts[]; overdue?: boolean };

/**
 * The one rendering of an order. A read never writes, so an order whose hold
 * has run out but which the sweeper has not reached yet is shown as what it
 * already is: `expired`, holding nothing (the sweeper then makes it so in the
 * database, releasing its stock).
 */
export function renderOrder(o: OrderFacts): OrderView {
  return {
    id: o.id,
    customerId: o.customerId,
    status: o.overdue ? "expired" : o.status,
    lines: [...o.lines]
      .sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0))
      .map((l) => ({ sku: l.sku, quantity: l.quantity, unitPriceCents: l.unitPriceCents, lineTotalCents: l.lineTotalCents })),
    totalCents: o.totalCents,
    refundedCents: o.refundedCents,
    version: o.version,
    reservedUntil: o.overdue || !o.reservedUntil ? null : o.reservedUntil.toISOString(),
    createdAt: o.createdAt.toISOString(),
    updatedAt: o.updatedAt.toISOString(),
  };
}
