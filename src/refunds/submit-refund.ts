import type { DataSource } from "typeorm";
import type { PaymentProvider } from "../payments/providers/payment-provider.js";
import { recordProviderRefundId, refundForProvider } from "./refund-store.js";

/**
 * Asks the provider for a refund we have committed as `pending` (rocket-rides
 * atomic phases): called after the COMMIT that created it, never inside a
 * transaction, keyed by our refund id (the provider's idempotency key), so a
 * repeat (a retry, the sweeper recovering a call a crash cut short) has no
 * second effect. The provider's id is then recorded by one conditional
 * statement. The outcome arrives later as the provider's signal.
 */
export async function submitRefund(ds: DataSource, provider: PaymentProvider, refundId: string): Promise<void> {
  const refund = await refundForProvider(ds, refundId);
  if (!refund || refund.providerRefundId !== null || refund.status !== "pending") return;
  const { providerRefundId } = await provider.requestRefund({
    refundId: refund.id,
    paymentId: refund.paymentId,
    providerPaymentId: refund.providerPaymentId,
    amountCents: refund.amountCents,
    currency: refund.currency,
    reason: refund.reason,
  });
  await recordProviderRefundId(ds, refund.id, providerRefundId);
}
