import type { DataSource, EntityManager } from "typeorm";
import { z } from "zod";
import { Payment } from "../../entities/payment.entity.js";
import { Refund } from "../../entities/refund.entity.js";
import { asEntity } from "../db/sql.js";
import { orderFromFacts } from "../orders/order-store.js";
import { orderView, renderOrder } from "../orders/order-view.js";
import { paymentView, renderPayment } from "../payments/payment-view.js";
import { refundView, renderRefund } from "../refunds/refund-view.js";
import { EVENT_TYPES } from "./append-event.js";
import { eventIdOf } from "./event-id.js";

/** An event as the API shows it; `data.object` is the resource as the API showed it right after the change. */
export const eventView = z
  .object({
    id: z.string(),
    type: z.enum(EVENT_TYPES),
    createdAt: z.iso.datetime(),
    data: z.object({ object: z.union([orderView, paymentView, refundView]) }),
  })
  .meta({ id: "Event" });
export type EventView = z.infer<typeof eventView>;

/** An events row; `id` is the stored uuid. */
export type EventRow = { id: string; type: (typeof EVENT_TYPES)[number]; created_at: Date; facts: Record<string, unknown> };

/** The one rendering of an event: its resource's facts through that resource's one renderer. */
export function renderEvent(m: EntityManager | DataSource, e: EventRow): EventView {
  const object = e.type.startsWith("order.")
    ? renderOrder(orderFromFacts(m, e.facts))
    : e.type.startsWith("refund.")
      ? renderRefund(asEntity(m, Refund, e.facts))
      : renderPayment(asEntity(m, Payment, e.facts));
  return { id: eventIdOf(e.id), type: e.type, createdAt: e.created_at.toISOString(), data: { object } };
}
