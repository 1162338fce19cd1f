import type { DataSource } from "typeorm";
import { Batcher, batcherPerDataSource, callBatchOrEachAlone, SHED_LOAD } from "../db/batcher.js";
import { sql, sqlOne } from "../db/sql.js";
import { crashPoint } from "../fault-injection.js";
import { counterShardOf } from "../metrics/record-purchase.js";
import { concurrencyMetrics } from "../metrics/registry.js";
import type { EventVerdict } from "./payment-store.js";

type SuccessEvent = { eventId: string; paymentId: string | null; amountCents: number };

/**
 * Batching of concurrent success events (src/db/batcher.ts), like orders: at
 * most CONFIRM_IN_FLIGHT calls in the database per process, each a batch of
 * the events that arrived meanwhile (orderlock_confirm_payments, migration
 * ConfirmPaymentsBatch: every row of the batch locked up front in the same
 * order, each event settled exactly as alone, the counters moved once).
 */
const CONFIRM_IN_FLIGHT = 2;
const CONFIRM_BATCH_MAX = 32;
const confirmerFor = batcherPerDataSource(
  (ds) =>
    new Batcher<SuccessEvent, EventVerdict>((batch) => callBatchOrEachAlone(batch, (items) => callConfirm(ds, items)), {
      maxInFlight: CONFIRM_IN_FLIGHT,
      maxBatch: CONFIRM_BATCH_MAX,
      ...SHED_LOAD,
    }),
);

/** One database call, its own transaction. The counter shard is the first payment's (any shard will do: reads sum them). */
async function callConfirm(ds: DataSource, batch: SuccessEvent[]): Promise<EventVerdict[]> {
  const shard = batch[0].paymentId ? counterShardOf(batch[0].paymentId) : 0;
  const end = concurrencyMetrics.lockWait.startTimer({ path: "confirm" });
  try {
    if (batch.length === 1) {
      const e = batch[0];
      const row = await sqlOne<EventVerdict>(ds.manager, `SELECT * FROM orderlock_confirm_payment($1, $2, $3, $4)`, [
        e.eventId,
        e.paymentId,
        e.amountCents,
        shard,
      ]);
      return [row!];
    }
    const { rows } = await sql<EventVerdict & { pos: number }>(ds.manager, `SELECT * FROM orderlock_confirm_payments($1, $2)`, [
      JSON.stringify(batch),
      shard,
    ]);
    const byPosition: EventVerdict[] = [];
    for (const { pos, ...verdict } of rows) byPosition[pos - 1] = verdict;
    return byPosition;
  } finally {
    end();
  }
}

/**
 * The success signal (`payment.succeeded`) for one event, applied at most
 * once, as ONE database call that is its own transaction:
 * orderlock_confirm_payment (migration ConfirmPaymentFunction). In order:
 *   1. lock the payment row FOR UPDATE, then record the event id (primary
 *      key): an id already received → duplicate, nothing else happens;
 *   2. only a `pending` payment with the exact amount is applied: the payment
 *      becomes `succeeded` and the order `paid` (each a compare-and-swap on
 *      the version read under its lock), the order's held stock is sold
 *      (product rows locked in SKU order; onHand and reserved both drop),
 *      and the purchase counters move once (counted_payments' primary key is
 *      the dedupe key), last;
 *   3. already `succeeded` → duplicate. `failed` → ignored: a payment that
 *      failed has already given its order back to `reserved`; since then the
 *      customer may have started a new payment, cancelled, or let the hold
 *      expire, so there is no state this late success could consistently
 *      move to, and applying it could make an order paid twice. (The caller
 *      logs it as a warning: if money really moved, it is refunded by hand.)
 *      Unknown payment or amount mismatch → ignored.
 * Lock order: payment → order → products → counters, as everywhere. The
 * rows are held only within the one statement and its COMMIT. A lost
 * compare-and-swap is raised as 40001 and, like a deadlock, retries the whole
 * call; a crash before COMMIT leaves no trace, so the provider's redelivery
 * is processed as if it were the first. Events that arrive while others are
 * in the database are confirmed together, in one call (see below).
 */
export async function confirmPayment(
  ds: DataSource,
  event: { id: string; paymentId: string | null; amountCents: number },
): Promise<EventVerdict> {
  crashPoint("confirm:before-statement", event.id);
  const verdict = await confirmerFor(ds).submit({ eventId: event.id, paymentId: event.paymentId, amountCents: event.amountCents });
  crashPoint("confirm:after-commit", event.id);
  return verdict;
}
