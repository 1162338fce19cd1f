import Stripe from "stripe";
import type { StripeSettings } from "../../config.js";
import type { PaymentProvider } from "./payment-provider.js";

/**
 * Stripe through its official SDK: the SDK signs, encodes and retries the
 * requests; every call that creates something carries Stripe's
 * Idempotency-Key derived from our own id, so a retry (the SDK's, a
 * client's, the sweeper's after a crash) returns the object the first call
 * made instead of making a second one. Stripe keeps idempotency keys for 24
 * hours; the sweeper does not retry a creation older than that.
 *
 * Nothing here touches the database: every method is called after the
 * COMMIT of the change it follows.
 */
export const STRIPE_MAX_NETWORK_RETRIES = 2;

export function createStripeClient(settings: Pick<StripeSettings, "secretKey" | "apiBase" | "timeoutMs">): Stripe {
  return new Stripe(settings.secretKey, {
    maxNetworkRetries: STRIPE_MAX_NETWORK_RETRIES,
    timeout: settings.timeoutMs,
    telemetry: false,
    ...(settings.apiBase ? { host: settings.apiBase.host, port: settings.apiBase.port, protocol: settings.apiBase.protocol } : {}),
  });
}

/** Stripe's answer when a PaymentIntent is already in a state that cannot be cancelled. */
const UNEXPECTED_STATE = "payment_intent_unexpected_state";

export function createStripeProvider(settings: Pick<StripeSettings, "secretKey" | "apiBase" | "timeoutMs">): PaymentProvider {
  const stripe = createStripeClient(settings);
  return {
    name: "stripe",

    async createPayment(payment) {
      const intent = await stripe.paymentIntents.create(
        {
          amount: payment.amountCents,
          currency: payment.currency.toLowerCase(),
          metadata: { orderlock_payment_id: payment.paymentId, orderlock_order_id: payment.orderId },
        },
        { idempotencyKey: payment.paymentId },
      );
      return { providerPaymentId: intent.id, clientSecret: intent.client_secret };
    },

    // Cancelling is naturally idempotent at Stripe: a PaymentIntent already
    // canceled (or succeeded: then the late-success path refunds it) is fine.
    async cancelPayment(payment) {
      if (payment.providerPaymentId === null) return; // no intent recorded: the sweeper cancels it once it has one
      try {
        await stripe.paymentIntents.cancel(payment.providerPaymentId, {}, { idempotencyKey: `cancel-${payment.paymentId}` });
      } catch (err) {
        if (!(err instanceof Stripe.errors.StripeInvalidRequestError) || err.code !== UNEXPECTED_STATE) throw err;
        const intent = await stripe.paymentIntents.retrieve(payment.providerPaymentId);
        if (intent.status !== "canceled" && intent.status !== "succeeded") throw err;
      }
    },

    // Our reason is free text: it travels as metadata, never as Stripe's own `reason` (an enum with consequences).
    async requestRefund(refund) {
      if (refund.providerPaymentId === null) throw new Error(`payment ${refund.paymentId} has no PaymentIntent to refund`);
      const created = await stripe.refunds.create(
        {
          payment_intent: refund.providerPaymentId,
          amount: refund.amountCents,
          metadata: { orderlock_refund_id: refund.refundId, orderlock_payment_id: refund.paymentId, orderlock_reason: refund.reason },
        },
        { idempotencyKey: refund.refundId },
      );
      return { providerRefundId: created.id };
    },
  };
}
