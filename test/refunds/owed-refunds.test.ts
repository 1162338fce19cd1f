import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PaymentProvider } from "../../src/payments/providers/payment-provider.js";
import { submitOwedRefunds } from "../../src/refunds/submit-owed-refunds.js";
import { eventually } from "../support/payment-factories.js";
import { createRefund, paidPayment, row } from "../support/refund-factories.js";
import { startTestApp, type TestApp } from "../support/test-app.js";

/** The recovery sweeper for refund requests owed to the provider (submitOwedRefunds). */
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t.close());
const silent = pino({ level: "silent" });

describe("refund requests owed to the provider", () => {
  it("when an owed refund is older than the provider's idempotency-key lifetime, then the sweeper does not request it again (a second refund could follow)", async () => {
    const { payment } = await paidPayment(t, 2, 1500);
    const refund = await createRefund(t, payment.id, { reason: "x", amountCents: 500 });
    await eventually(async () =>
      expect(
        (await row<{ p: string | null }>(t, `SELECT provider_refund_id AS p FROM refunds WHERE id = $1`, [refund.id])).p,
      ).not.toBeNull(),
    );
    // As if the first call reached the provider (which made the refund) but its answer never came,
    // and every retry failed for a day (provider / egress outage): pending, no provider id, 25 h old.
    await t.ds.query(`UPDATE refunds SET provider_refund_id = NULL, created_at = now() - interval '25 hours' WHERE id = $1`, [refund.id]);
    const calls: string[] = [];
    const provider: PaymentProvider = {
      name: "sandbox",
      createPayment: async (p) => ({ providerPaymentId: p.paymentId, clientSecret: null }),
      cancelPayment: async () => {},
      requestRefund: async (r) => {
        calls.push(r.refundId);
        return { providerRefundId: `re_second_${r.refundId}` }; // Stripe forgot the key: a SECOND refund is made
      },
    };
    await submitOwedRefunds(t.ds, provider, silent, 30);
    // Stripe keeps an Idempotency-Key 24 h; a call with the same key after that creates a second refund
    // (money sent twice). completeProviderPayments refuses past 23 h for exactly this reason.
    expect(calls.filter((id) => id === refund.id)).toEqual([]);
  });
});
