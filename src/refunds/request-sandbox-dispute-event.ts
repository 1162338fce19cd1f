import { randomBytes } from "node:crypto";
import type { EntityManager } from "typeorm";
import { InvalidStateError, NotFoundError } from "../errors.js";
import { findPayment } from "../payments/payment-store.js";
import type { DisputeEvent, DisputeEventType } from "../payments/providers/payment-provider.js";
import type { SandboxProvider } from "../payments/providers/sandbox-provider.js";

export type SandboxDisputeRequest = { duplicates: number; disputeId?: string; amountCents?: number };
export type SandboxDisputeAccepted = { paymentId: string; disputeId: string; type: DisputeEventType; eventId: string; deliveries: number };

/**
 * Asks the sandbox provider to report a dispute signal about one of its
 * payments (admin only): funds withdrawn (a new dispute id unless one is
 * given; the whole amount unless told) or reinstated (name the dispute).
 * Reads only; the webhook decides under its own locks. Delivered after COMMIT.
 */
export async function requestSandboxDisputeEvent(
  m: EntityManager,
  sandbox: SandboxProvider,
  paymentId: string,
  type: DisputeEventType,
  request: SandboxDisputeRequest,
): Promise<{ event: DisputeEvent; accepted: SandboxDisputeAccepted }> {
  const payment = await findPayment(m, paymentId);
  if (!payment) throw new NotFoundError(`Payment ${paymentId}`);
  if (payment.provider !== sandbox.name) throw new InvalidStateError(`Payment ${paymentId} is not a ${sandbox.name} payment.`);
  const disputeId = request.disputeId ?? `sbx_dp_${randomBytes(12).toString("hex")}`;
  const event: DisputeEvent = {
    id: sandbox.newEventId(),
    type,
    data: { paymentId: payment.id, disputeId, amountCents: request.amountCents ?? payment.amountCents },
  };
  return { event, accepted: { paymentId: payment.id, disputeId, type, eventId: event.id, deliveries: 1 + request.duplicates } };
}
