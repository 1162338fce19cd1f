import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { ServiceUnavailableError } from "../errors.js";
import { crashPoint } from "../fault-injection.js";
import { releaseProviderCall } from "./payment-store.js";
import type { PaymentProvider, ProviderPayment } from "./providers/payment-provider.js";

/**
 * Phase 2 of creating a payment: the provider call, made by whoever holds
 * its claim (payments.provider_claimed_until), outside any transaction. The
 * provider is idempotent by our payment id, so a repeat returns the same
 * provider payment. A failure (timeout, network, the provider's error)
 * releases the claim, so a retry may call again at once, and is a 503: the
 * client retries with the same Idempotency-Key, or the sweeper completes it.
 */
export async function createAtProvider(
  ds: DataSource,
  provider: PaymentProvider,
  payment: { paymentId: string; orderId: string; amountCents: number; currency: string },
  logger: Logger,
  /** For the crash point after the call: the request's Idempotency-Key, or the payment id (the sweeper). */
  crashToken: string,
): Promise<ProviderPayment> {
  let made: ProviderPayment;
  try {
    made = await provider.createPayment(payment);
  } catch (err) {
    logger.warn({ err, paymentId: payment.paymentId, provider: provider.name }, "provider did not create the payment");
    await releaseProviderCall(ds, payment.paymentId).catch(() => {}); // else the claim lapses on its own
    throw new ServiceUnavailableError("The payment provider did not create the payment; retry with the same Idempotency-Key.", 2);
  }
  crashPoint("payment:after-provider-call", crashToken);
  return made;
}
