import type { DataSource } from "typeorm";
import { Batcher, batcherPerDataSource, callBatchOrEachAlone, SHED_LOAD } from "../db/batcher.js";
import { callOnce } from "../db/sql.js";
import { crashPoint } from "../fault-injection.js";
import { counterShardOf } from "../metrics/counter-shards.js";
import { concurrencyMetrics } from "../metrics/registry.js";
import type { EventVerdict } from "./payment-store.js";
import type { PaymentEventType } from "./providers/payment-provider.js";

/** One orderlock_settle_payment call's arguments; a batch sends a JSON array of them. */
type SettleRequest = { eventId: string; type: PaymentEventType; paymentId: string | null; amountCents: number; holdSeconds: number };

/**
 * Batching of concurrent provider events (src/db/batcher.ts): at most
 * SETTLE_IN_FLIGHT calls in the database per process, each a batch of the
 * events that arrived meanwhile.
 */
const SETTLE_IN_FLIGHT = 2;
const SETTLE_BATCH_MAX = 32;
const settlerFor = batcherPerDataSource(
  (ds) =>
    new Batcher<SettleRequest, EventVerdict>(
      (batch, answerEarly) => callBatchOrEachAlone(batch, (items) => callSettle(ds, items), answerEarly),
      {
        maxInFlight: SETTLE_IN_FLIGHT,
        maxBatch: SETTLE_BATCH_MAX,
        ...SHED_LOAD,
      },
    ),
);

/** One database call, its own transaction. The counter shard is the first payment's (any shard will do: reads sum them). */
async function callSettle(ds: DataSource, batch: SettleRequest[]): Promise<EventVerdict[]> {
  const shard = batch[0].paymentId ? counterShardOf(batch[0].paymentId) : 0;
  const end = concurrencyMetrics.lockWait.startTimer({ path: "confirm" });
  try {
    const { rows } = await callOnce<Omit<EventVerdict, "lateRefundId"> & { pos: number; late_refund_id: string | null }>(
      ds,
      `SELECT * FROM orderlock_settle_payments($1, $2)`,
      [JSON.stringify(batch), shard],
    );
    const byPosition: EventVerdict[] = [];
    for (const { pos, late_refund_id, ...verdict } of rows) byPosition[pos - 1] = { ...verdict, lateRefundId: late_refund_id };
    return byPosition;
  } finally {
    end();
  }
}

/**
 * A provider's event about a payment (`payment.succeeded`,
 * `payment.failed`), applied at most once, as ONE database call that is its
 * own transaction: orderlock_settle_payments (settle-payments.sql), which
 * decides the verdict and applies it with orderlock_settle_payment
 * (settle-payment.sql, the one definition of the payment verdict), then
 * counts the purchases with orderlock_record_purchases. Events that arrive
 * while others are in the database go together in one call.
 *
 * A lost compare-and-swap is raised as 40001 and, like a deadlock, retries
 * the whole call; a crash before COMMIT leaves no trace, so the provider's
 * redelivery is processed as if it were the first. A failure gives the
 * order back to `reserved` with a fresh hold of `holdSeconds`.
 */
export async function settlePaymentEvent(
  ds: DataSource,
  event: { id: string; type: PaymentEventType; paymentId: string | null; amountCents: number },
  holdSeconds: number,
): Promise<EventVerdict> {
  crashPoint("confirm:before-statement", event.id);
  const verdict = await settlerFor(ds).submit({
    eventId: event.id,
    type: event.type,
    paymentId: event.paymentId,
    amountCents: event.amountCents,
    holdSeconds,
  });
  crashPoint("confirm:after-commit", event.id);
  return verdict;
}
