import type { EntityManager } from "typeorm";
import { InvalidStateError, NotFoundError } from "../errors.js";
import { findPayment } from "../payments/payment-store.js";
import type { RefundEvent, RefundEventType } from "../payments/providers/payment-provider.js";
import type { SandboxProvider } from "../payments/providers/sandbox-provider.js";
import { findRefund } from "./refund-store.js";

export type SandboxRefundAccepted = { refundId: string; type: RefundEventType; eventId: string; deliveries: number };

/**
 * Asks the sandbox provider to report an outcome for one of its refunds
 * (admin only). Reads only: the event carries the refund's id and amount,
 * and the webhook decides everything under its own locks (a signal for a
 * settled refund is a duplicate there). The caller delivers it after COMMIT.
 */
export async function requestSandboxRefundEvent(
  m: EntityManager,
  sandbox: SandboxProvider,
  refundId: string,
  type: RefundEventType,
  request: { duplicates: number },
): Promise<{ event: RefundEvent; accepted: SandboxRefundAccepted }> {
  const refund = await findRefund(m, refundId);
  if (!refund) throw new NotFoundError(`Refund ${refundId}`);
  const payment = await findPayment(m, refund.paymentId);
  if (payment?.provider !== sandbox.name) throw new InvalidStateError(`Refund ${refundId} is not a ${sandbox.name} refund.`);
  const event: RefundEvent = { id: sandbox.newEventId(), type, data: { refundId: refund.id, amountCents: refund.amountCents } };
  return { event, accepted: { refundId: refund.id, type, eventId: event.id, deliveries: 1 + request.duplicates } };
}
