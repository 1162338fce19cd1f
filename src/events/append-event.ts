import type { EntityManager } from "typeorm";
import { sql } from "../db/sql.js";

export const EVENT_TYPES = [
  "order.placed",
  "order.changed",
  "order.cancelled",
  "order.expired",
  "order.paid",
  "order.refunded",
  "payment.failed",
  "payment.expired",
  "refund.succeeded",
  "refund.failed",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * Writes the events of changes just made, in the caller's transaction, by the
 * one definition (append-events.sql): one per resource id, in the order given.
 * The caller holds each resource's row lock and has just changed it.
 */
export async function appendEvents(m: EntityManager, type: EventType, resourceIds: string[]): Promise<void> {
  if (resourceIds.length === 0) return;
  await sql(m, `SELECT 1 FROM orderlock_append_events($1, $2::uuid[])`, [type, resourceIds]);
}
