import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { type PaymentProvider, PROVIDER_KEY_MAX_AGE_HOURS } from "../payments/providers/payment-provider.js";
import { refundsAwaitingProvider } from "./refund-store.js";
import { submitRefund } from "./submit-refund.js";

/**
 * The recovery sweeper for refund requests: a refund still `pending` with no
 * provider id `graceSeconds` after its creation (the call after COMMIT was
 * cut short by a crash, a timeout or the provider) is requested again, with
 * the same key (our refund id). Safe on every instance at once: the call is
 * idempotent and the id is recorded by a conditional statement. Not past
 * PROVIDER_KEY_MAX_AGE_HOURS: the provider may have forgotten the key, and a
 * repeat could refund twice; such a refund stays pending for an operator.
 */
export async function submitOwedRefunds(
  ds: DataSource,
  provider: PaymentProvider,
  logger: Logger,
  graceSeconds = 30,
  batchSize = 100,
): Promise<number> {
  const owed = await refundsAwaitingProvider(ds, graceSeconds, PROVIDER_KEY_MAX_AGE_HOURS, batchSize);
  let submitted = 0;
  for (const id of owed) {
    try {
      await submitRefund(ds, provider, id);
      submitted += 1;
    } catch (err) {
      logger.warn({ err, refundId: id }, "refund request to the provider failed; will retry");
    }
  }
  return submitted;
}
