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

export interface PaymentProvider {
  /** Stored in payments.provider; (provider, providerPaymentId) is unique. */
  readonly name: string;
  /**
   * The provider's reference for a payment we are creating. Called inside the
   * creating transaction, so it must not do I/O: a provider that needs an API
   * call would create its intent from an outbox after COMMIT instead.
   */
  newProviderPaymentId(paymentId: string): string;
}
