import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { inTransaction } from "../db/in-transaction.js";
import { createAtProvider } from "./create-at-provider.js";
import { claimAwaitingPayments, recordProviderPayment } from "./payment-store.js";
import { type PaymentProvider, PROVIDER_KEY_MAX_AGE_HOURS } from "./providers/payment-provider.js";

const BATCH = 10;

/**
 * The sweeper for payments whose provider call was cut short (the creating
 * process died, the provider timed out and the client never retried):
 * 1. one statement claims a batch (FOR UPDATE SKIP LOCKED over
 *    payments_awaiting_provider_idx, only lapsed claims) and commits;
 * 2. outside any transaction, the provider call again, with the same
 *    idempotency key (our payment id): the provider returns the payment the
 *    first call made, if it made one;
 * 3. its id and client secret stored by compare-and-swap, in a transaction
 *    of its own. A payment that stopped being pending meanwhile (expired)
 *    has its new provider payment cancelled after that commit.
 * A failed call is logged and its claim released; the next tick tries again.
 * Safe on any number of instances at once. Returns how many it completed.
 */
export async function completeProviderPayments(
  ds: DataSource,
  provider: PaymentProvider,
  deps: { leaseSeconds: number; logger: Logger },
): Promise<number> {
  const claimed = await claimAwaitingPayments(ds, {
    provider: provider.name,
    leaseSeconds: deps.leaseSeconds,
    limit: BATCH,
    maxAgeHours: PROVIDER_KEY_MAX_AGE_HOURS,
  });
  const done = await Promise.all(
    claimed.map(async (p) => {
      try {
        const made = await createAtProvider(
          ds,
          provider,
          { paymentId: p.id, orderId: p.orderId, amountCents: p.amountCents, currency: p.currency },
          deps.logger,
          p.id,
        );
        const stored = await inTransaction(ds, (m) => recordProviderPayment(m, p.id, made));
        deps.logger.info({ paymentId: p.id, providerPaymentId: made.providerPaymentId }, "provider payment completed by the sweeper");
        if (stored.status !== "pending") await provider.cancelPayment({ paymentId: p.id, providerPaymentId: made.providerPaymentId });
        return 1;
      } catch (err) {
        deps.logger.warn({ err, paymentId: p.id }, "completing a provider payment failed; retried later");
        return 0;
      }
    }),
  );
  return done.reduce<number>((a, b) => a + b, 0);
}
