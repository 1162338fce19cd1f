import type { EntityManager } from "typeorm";
import { NotFoundError } from "../errors.js";
import { decodeCursor, encodeCursor } from "../pagination.js";
import { findPayment } from "../payments/payment-store.js";
import { findRefund, listRefunds } from "./refund-store.js";
import { type RefundView, renderRefund } from "./refund-view.js";

/** One refund (admin). Reads only. */
export async function getRefundOrThrow(m: EntityManager, id: string): Promise<RefundView> {
  const refund = await findRefund(m, id);
  if (!refund) throw new NotFoundError(`Refund ${id}`);
  return renderRefund(refund);
}

/** A payment's refunds (admin), newest first, keyset-paginated. Reads only. */
export async function listPaymentRefunds(m: EntityManager, paymentId: string, q: { limit: number; cursor?: string }) {
  if (!(await findPayment(m, paymentId))) throw new NotFoundError(`Payment ${paymentId}`);
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, "query.cursor", 2);
  const rows = await listRefunds(m, {
    paymentId,
    after: after ? { createdAt: after[0], id: after[1] } : undefined,
    limit: q.limit + 1,
  });
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    items: page.map(renderRefund),
    nextCursor: rows.length > q.limit ? encodeCursor([last.createdAt.toISOString(), last.id]) : null,
  };
}
