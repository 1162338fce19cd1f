import type { OrderStatus } from "../../entities/order.entity.js";

export type { OrderStatus };

/**
 * Stock is held exactly in the statuses listed in HOLDS_STOCK. The
 * transitions between statuses are the database's (order-may-become.sql).
 */
export const HOLDS_STOCK: readonly OrderStatus[] = ["reserved", "pending_payment"];
