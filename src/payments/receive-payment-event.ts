import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { inTransaction } from "../db/in-transaction.js";
import { paymentMetrics } from "../metrics/registry.js";
import { confirmPayment } from "./confirm-payment.js";
import { failPayment } from "./fail-payment.js";
import { type EventOutcome, type EventVerdict, lockPayment, recordEvent, setEventOutcome } from "./payment-store.js";
import type { PaymentEvent } from "./providers/payment-provider.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A provider event (its signature checked, its body validated), applied at most
 * once, in ONE transaction (retried as a whole on 40001/40P01). A success is
 * one database call (confirmPayment, the hot path); a failure runs these
 * steps as statements in inTransaction:
 *   1. lock the payment row FOR UPDATE: every event about one payment is
 *      serialised here, whatever its event id;
 *   2. record the event id (payment_events primary key, ON CONFLICT DO
 *      NOTHING): an id already recorded → `duplicate`, nothing else happens.
 *      Concurrent deliveries of one id wait on the key and then find it;
 *   3. apply it (confirmPayment / failPayment take the order row, then the
 *      product rows, then the counter row), or decide it is a duplicate of
 *      what the payment already is, or to be ignored; the recorded outcome
 *      says which.
 * A crash anywhere before COMMIT leaves no trace, so the provider's
 * redelivery is processed as if it were the first. Every delivery is logged
 * with event id, payment id and outcome; Prometheus counts are taken after
 * COMMIT, so a retried transaction is counted once.
 */
export async function receivePaymentEvent(
  ds: DataSource,
  event: PaymentEvent,
  deps: { reservationTtlSeconds: number; logger: Logger },
): Promise<EventOutcome> {
  const claimedId = UUID.test(event.data.paymentId) ? event.data.paymentId.toLowerCase() : null;
  const verdict =
    event.type === "payment.succeeded"
      ? await confirmPayment(ds, { id: event.id, paymentId: claimedId, amountCents: event.data.amountCents })
      : await inTransaction(ds, async (m): Promise<EventVerdict> => {
          const payment = claimedId ? await lockPayment(m, claimedId) : undefined;
          const fresh = await recordEvent(m, { eventId: event.id, paymentId: claimedId, type: event.type, outcome: "processed" });
          if (!fresh) return { outcome: "duplicate", reason: "event id already received" };
          const result = await failPayment(m, payment, event.data.amountCents, deps.reservationTtlSeconds);
          if (result.outcome !== "processed") await setEventOutcome(m, event.id, result.outcome);
          return result;
        });

  paymentMetrics.webhookEvents.inc({ outcome: verdict.outcome });
  if (verdict.counted) paymentMetrics.purchaseCounterIncrements.inc();
  const entry = { eventId: event.id, paymentId: event.data.paymentId, type: event.type, outcome: verdict.outcome, reason: verdict.reason };
  if (verdict.outcome === "ignored") deps.logger.warn(entry, "payment webhook ignored");
  else deps.logger.info(entry, "payment webhook");
  return verdict.outcome;
}
