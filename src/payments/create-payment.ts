import type { Logger } from "pino";
import type { DataSource, EntityManager } from "typeorm";
import { type Caller, ownerFilter } from "../auth/caller.js";
import { newId } from "../db/new-id.js";
import { IdempotencyKeyInUseError, InvalidStateError, NotFoundError } from "../errors.js";
import type { CommandOutcome, FinishCommand, RecoveryPoint, ResumeContext, StoredResponse } from "../idempotency/execute-command.js";
import { lockOrder } from "../orders/order-store.js";
import { transitionOrder } from "../orders/transition-order.js";
import { createAtProvider } from "./create-at-provider.js";
import { claimProviderCall, findPayment, insertPayment, recordProviderPayment } from "./payment-store.js";
import { type PaymentView, renderPayment } from "./payment-view.js";
import type { PaymentProvider } from "./providers/payment-provider.js";

export type CreatePaymentDeps = {
  currency: string;
  provider: PaymentProvider;
  paymentTtlSeconds: number;
  /** How long one caller holds the provider call (payments.provider_claimed_until). */
  providerCallLeaseSeconds: number;
  logger: Logger;
};

/** The facts the first phase leaves under the Idempotency-Key (execute-command.ts). */
type PaymentCreated = { paymentId: string; orderId: string; amountCents: number; currency: string };
const PAYMENT_CREATED = "payment_created";

/**
 * Starts paying for an order, in three phases (rocket-rides-atomic), so no
 * call to the provider happens inside a transaction and none is made twice:
 *
 * 1. createPayment, in the command runner's transaction: a `pending`
 *    payment for the order's total, expiring `paymentTtlSeconds` from now,
 *    with provider_payment_id NULL and this request's claim on the provider
 *    call; the order moves `reserved` → `pending_payment` with its hold moved
 *    to the payment's expiry. It returns a recovery point (the payment id),
 *    which the runner stores under the Idempotency-Key in this transaction.
 *    Locks: the order row only (FOR UPDATE). Under that lock the order must
 *    be `reserved` and within its hold; so of any number of racing requests
 *    exactly one creates a payment and the rest get 409 invalid_state. The
 *    partial unique index payments_one_pending_per_order backs the rule.
 * 2. completePaymentCreation, after COMMIT: the provider creates its payment,
 *    keyed by our payment id (Stripe's Idempotency-Key).
 * 3. in one transaction: the provider payment id and client secret are
 *    stored by compare-and-swap, and the 201 answer under the key.
 *
 * A retry of the key after phase 1 resumes at phase 2 (claiming the call
 * first: while another caller's claim holds, 409 idempotency_key_in_use). A
 * phase 2 cut short by a crash or a timeout is completed by the same call,
 * with the same provider idempotency key, by such a retry or by the sweeper
 * (complete-provider-payments.ts); so a payment never gets two provider payments.
 */
export async function createPayment(m: EntityManager, caller: Caller, orderId: string, deps: CreatePaymentDeps): Promise<RecoveryPoint> {
  const order = await lockOrder(m, orderId, ownerFilter(caller));
  if (!order) throw new NotFoundError(`Order ${orderId}`);
  if (order.status !== "reserved" || order.overdue) {
    throw new InvalidStateError(
      order.overdue ? "The order's hold has expired; it can no longer be paid." : `A ${order.status} order cannot be paid.`,
    );
  }
  const payment = await insertPayment(m, {
    id: newId(),
    orderId: order.id,
    customerId: order.customerId,
    amountCents: order.totalCents,
    currency: deps.currency,
    provider: deps.provider.name,
    providerPaymentId: null,
    ttlSeconds: deps.paymentTtlSeconds,
    claimSeconds: deps.providerCallLeaseSeconds,
  });
  await transitionOrder(m, order, "pending_payment", payment.expiresAt);
  const facts: PaymentCreated = { paymentId: payment.id, orderId: order.id, amountCents: payment.amountCents, currency: payment.currency };
  return { recoveryPoint: PAYMENT_CREATED, facts };
}

/**
 * Phases 2 and 3 (see createPayment), from the recovery point. `fresh`: the
 * request that just committed phase 1 holds the claim already; a retry
 * claims it first. If the provider payment is already stored (by the
 * sweeper), only phase 3 runs.
 */
export async function completePaymentCreation(
  ds: DataSource,
  point: RecoveryPoint,
  context: ResumeContext,
  finish: FinishCommand,
  deps: CreatePaymentDeps & { answer: (payment: PaymentView) => StoredResponse },
): Promise<CommandOutcome> {
  const created = point.facts as PaymentCreated;
  let callProvider = context.fresh;
  if (!context.fresh) {
    callProvider = (await claimProviderCall(ds, created.paymentId, deps.providerCallLeaseSeconds)) !== null;
    if (!callProvider) {
      const payment = await findPayment(ds.manager, created.paymentId);
      // Still awaiting, under someone else's claim: the first request (or the sweeper) is calling right now.
      if (payment && payment.providerPaymentId === null) throw new IdempotencyKeyInUseError();
    }
  }
  const made = callProvider ? await createAtProvider(ds, deps.provider, created, deps.logger, context.key ?? created.paymentId) : undefined;
  const outcome = await finish(async (m) =>
    deps.answer(viewOf(made ? await recordProviderPayment(m, created.paymentId, made) : await findPayment(m, created.paymentId))),
  );
  const status = (outcome.response.body as { status?: string } | null)?.status;
  if (made && status !== undefined && status !== "pending") {
    // It expired or failed while the provider was creating it: cancel what was just made (idempotent).
    await deps.provider
      .cancelPayment({ paymentId: created.paymentId, providerPaymentId: made.providerPaymentId })
      .catch((err: unknown) => deps.logger.warn({ err, paymentId: created.paymentId }, "cancelling a late provider payment failed"));
  }
  return outcome;
}

function viewOf(payment: Awaited<ReturnType<typeof findPayment>>): PaymentView {
  if (!payment) throw new Error("payment vanished during its creation");
  return renderPayment(payment);
}
