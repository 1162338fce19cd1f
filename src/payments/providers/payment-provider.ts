/**
 * What the service needs from a payment provider. The provider tells us the
 * outcome of a payment only through signed webhooks (POST /v1/webhooks/payments),
 * delivered at least once, possibly repeated, possibly out of order: every
 * guarantee about money and counters is enforced by the webhook's
 * transaction, never by trusting the provider to deliver exactly once.
 */
export type PaymentEventType = "payment.succeeded" | "payment.failed";

/** The webhook body, as the contract defines it. */
export type PaymentEvent = {
  id: string;
  type: PaymentEventType;
  data: { paymentId: string; amountCents: number };
};
export type RefundEventType = "refund.succeeded" | "refund.failed";
export type RefundEvent = { id: string; type: RefundEventType; data: { refundId: string; amountCents: number } };
/** Chargebacks: our extension of the generic webhook (docs/payments.md). */
export type DisputeEventType = "dispute.funds_withdrawn" | "dispute.funds_reinstated";
export type DisputeEvent = { id: string; type: DisputeEventType; data: { paymentId: string; disputeId: string; amountCents: number } };
/** Every signal the generic webhook (POST /v1/webhooks/payments) accepts. */
export type ProviderEvent = PaymentEvent | RefundEvent | DisputeEvent;
export const isPaymentEvent = (e: ProviderEvent): e is PaymentEvent => e.type.startsWith("payment.");
export const isRefundEvent = (e: ProviderEvent): e is RefundEvent => e.type.startsWith("refund.");

export type NewProviderPayment = { paymentId: string; orderId: string; amountCents: number; currency: string };
/** The provider's reference for a payment, and what a browser needs to pay it (null when nothing is needed). */
export type ProviderPayment = { providerPaymentId: string; clientSecret: string | null };

/**
 * The port every provider adapter implements (the sandbox; Stripe). Every
 * method is a network call made after the COMMIT of the change it follows,
 * never inside a transaction, and is idempotent: it may be called again for
 * the same id (a retry, or the recovery of a call a crash cut short) and then
 * returns the same result without a second effect at the provider.
 */
export interface PaymentProvider {
  /** Stored in payments.provider; (provider, providerPaymentId) is unique. */
  readonly name: string;
  /**
   * Cancels the provider's side of a payment that expired here, so it can no
   * longer be paid. Idempotent; a payment the provider no longer has is fine.
   */
  cancelPayment(payment: { paymentId: string; providerPaymentId: string | null }): Promise<void>;
  /**
   * Asks the provider to refund (part of) a payment, keyed by our refund id.
   * The outcome arrives later as the provider's signal (refund succeeded or
   * failed), never as this call's answer.
   */
  requestRefund(refund: {
    refundId: string;
    paymentId: string;
    providerPaymentId: string | null;
    amountCents: number;
    currency: string;
    reason: string;
  }): Promise<{ providerRefundId: string }>;
  /**
   * Creates the provider's side of a payment we have committed, keyed by our
   * payment id (the provider's idempotency key): called again for the same
   * payment it returns the same provider payment, never a second one. Called
   * after the COMMIT that created ours, by the request, a retry of its
   * Idempotency-Key or the sweeper (complete-provider-payments.ts).
   */
  createPayment(payment: NewProviderPayment): Promise<ProviderPayment>;
}

/**
 * Stripe keeps an idempotency key for 24 hours; a call repeated later under
 * the same key makes a second PaymentIntent or refund. Calls owed longer than
 * this are not repeated by the sweepers (complete-provider-payments.ts,
 * submit-owed-refunds.ts): they are left for an operator.
 */
export const PROVIDER_KEY_MAX_AGE_HOURS = 23;
