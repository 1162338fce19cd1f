import { describe, expect, it } from "vitest";
import { mapStripeEvent } from "../../src/payments/providers/stripe-events.js";

/** Stripe objects → the plain signals the use cases take (no database, no HTTP). */
const event = (type: string, object: Record<string, unknown>, id = "evt_1") => ({ id, type, data: { object } });
const intent = {
  id: "pi_1",
  object: "payment_intent",
  amount: 1800,
  amount_received: 1800,
  currency: "usd",
  metadata: { orderlock_payment_id: "0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", orderlock_order_id: "x" },
};
const refundObject = {
  id: "re_1",
  object: "refund",
  amount: 500,
  currency: "usd",
  status: "succeeded",
  payment_intent: "pi_1",
  metadata: { orderlock_refund_id: "7a1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" },
};

describe("mapping Stripe events", () => {
  it("when a PaymentIntent succeeded, then a payment.succeeded of amount_received, currency upper case, our id from metadata", () => {
    expect(mapStripeEvent(event("payment_intent.succeeded", { ...intent, amount_received: 1700 }))).toEqual([
      {
        kind: "payment",
        eventId: "evt_1",
        type: "payment.succeeded",
        claimedPaymentId: intent.metadata.orderlock_payment_id,
        providerPaymentId: "pi_1",
        amountCents: 1700,
        currency: "USD",
      },
    ]);
  });

  it("when a PaymentIntent failed or was canceled, then a payment.failed of its amount", () => {
    for (const type of ["payment_intent.payment_failed", "payment_intent.canceled"]) {
      expect(mapStripeEvent(event(type, { ...intent, amount_received: 0, metadata: {} }))).toEqual([
        {
          kind: "payment",
          eventId: "evt_1",
          type: "payment.failed",
          claimedPaymentId: null,
          providerPaymentId: "pi_1",
          amountCents: 1800,
          currency: "USD",
        },
      ]);
    }
  });

  it("when refund.updated carries our refund id, then a refund signal with it; without it, a dashboard refund (refundId null)", () => {
    expect(mapStripeEvent(event("refund.updated", refundObject))).toEqual([
      {
        kind: "refund",
        eventId: "evt_1",
        refundId: "7a1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        providerRefundId: "re_1",
        providerPaymentId: "pi_1",
        amountCents: 500,
        currency: "USD",
        outcome: "succeeded",
      },
    ]);
    expect(mapStripeEvent(event("refund.updated", { ...refundObject, metadata: {}, payment_intent: { id: "pi_2" } }))[0]).toMatchObject({
      refundId: null,
      providerPaymentId: "pi_2",
    });
  });

  it("when a refund failed or was canceled, then outcome failed; pending or requires_action, then ignored (not final)", () => {
    expect(mapStripeEvent(event("refund.updated", { ...refundObject, status: "failed" }))[0]).toMatchObject({ outcome: "failed" });
    expect(mapStripeEvent(event("refund.updated", { ...refundObject, status: "canceled" }))[0]).toMatchObject({ outcome: "failed" });
    expect(mapStripeEvent(event("refund.updated", { ...refundObject, status: "pending" }))[0]).toMatchObject({ kind: "ignored" });
    expect(mapStripeEvent(event("refund.updated", { ...refundObject, status: "requires_action" }))[0]).toMatchObject({ kind: "ignored" });
  });

  it("when charge.refunded lists its refunds, then one signal each (one event id each when several); unlisted, ignored", () => {
    const charge = { id: "ch_1", object: "charge", payment_intent: "pi_1" };
    const one = mapStripeEvent(
      event("charge.refunded", { ...charge, refunds: { object: "list", data: [{ ...refundObject, payment_intent: null }] } }),
    );
    expect(one).toEqual([
      expect.objectContaining({ kind: "refund", eventId: "evt_1", providerPaymentId: "pi_1", providerRefundId: "re_1" }),
    ]);
    const two = mapStripeEvent(
      event("charge.refunded", {
        ...charge,
        refunds: { data: [refundObject, { ...refundObject, id: "re_2", status: "pending" }, { ...refundObject, id: "re_3" }] },
      }),
    );
    expect(two.map((s) => s.eventId)).toEqual(["evt_1/re_1", "evt_1/re_3"]);
    expect(mapStripeEvent(event("charge.refunded", charge))[0]).toMatchObject({ kind: "ignored" });
  });

  it("when dispute funds are withdrawn or reinstated, then a dispute signal with its amount and PaymentIntent", () => {
    const dispute = {
      id: "dp_1",
      object: "dispute",
      amount: 1800,
      currency: "usd",
      payment_intent: "pi_1",
      charge: "ch_1",
      status: "lost",
    };
    expect(mapStripeEvent(event("charge.dispute.funds_withdrawn", dispute))).toEqual([
      { kind: "dispute_withdrawn", eventId: "evt_1", disputeId: "dp_1", providerPaymentId: "pi_1", amountCents: 1800, currency: "USD" },
    ]);
    expect(mapStripeEvent(event("charge.dispute.funds_reinstated", dispute))[0]).toMatchObject({ kind: "dispute_reinstated" });
  });

  it("when the type is not ours, or the object does not read as its type, then ignored", () => {
    expect(mapStripeEvent(event("customer.created", { id: "cus_1" }))[0]).toMatchObject({ kind: "ignored" });
    expect(mapStripeEvent(event("payment_intent.succeeded", { id: "pi_1", amount: "lots" }))[0]).toMatchObject({ kind: "ignored" });
    expect(mapStripeEvent(event("charge.dispute.funds_withdrawn", { id: "dp_1", amount: -5, currency: "usd" }))[0]).toMatchObject({
      kind: "ignored",
    });
  });
});
