import type { OrderStatus } from "../../entities/order.entity.js";
import { InvalidStateError } from "../errors.js";

export type { OrderStatus };

/**
 * The order state machine, the only place transitions are defined.
 *   reserved → pending_payment (payment created) | cancelled (customer) | expired (TTL)
 *   pending_payment → paid (payment succeeded) | reserved (payment failed; fresh hold)
 *                     | expired (its payment expired)
 *   paid → refunded (refunds returned the whole total)
 *   refunded, cancelled, expired: final
 * Stock is held exactly in the statuses listed in HOLDS_STOCK.
 */
const TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  reserved: ["pending_payment", "cancelled", "expired"],
  pending_payment: ["paid", "reserved", "expired"],
  paid: ["refunded"],
  refunded: [],
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
