import type { OrderStatus } from "../../entities/order.entity.js";
import { InvalidStateError } from "../errors.js";

export type { OrderStatus };

/**
 * The order state machine, the only place transitions are defined.
 *   reserved → pending_payment (payment created) | cancelled (customer) | expired (TTL)
 *   pending_payment → paid (payment succeeded) | reserved (payment failed; fresh hold)
 *                     | expired (its payment expired)
 *   paid → refunded (refunds returned the whole total)
 *   refunded → paid (a dispute's refund reversed: funds reinstated)
 *   cancelled, expired: final
 * The refund transitions happen in SQL (src/refunds/apply-refund.sql), under
 * the payment's and the order's row locks; they are listed here so this
 * stays the one picture of the machine.
 * Stock is held exactly in the statuses listed in HOLDS_STOCK.
 */
const TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  reserved: ["pending_payment", "cancelled", "expired"],
  pending_payment: ["paid", "reserved", "expired"],
  paid: ["refunded"],
  refunded: ["paid"],
  cancelled: [],
  expired: [],
};

export const HOLDS_STOCK: readonly OrderStatus[] = ["reserved", "pending_payment"];

function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(from: OrderStatus, to: OrderStatus): void {
  if (!canTransition(from, to)) {
    throw new InvalidStateError(`An order cannot go from ${from} to ${to}.`);
  }
}
