import type { EntityManager } from "typeorm";
import { InvalidStateError, NotFoundError } from "../errors.js";
import { findPayment } from "./payment-store.js";
import type { PaymentEvent, PaymentEventType } from "./providers/payment-provider.js";
import type { SandboxProvider } from "./providers/sandbox-provider.js";

export type SandboxRequest = { duplicates: number };
export type SandboxAccepted = { paymentId: string; type: PaymentEventType; eventId: string; deliveries: number };

/**
 * Asks the sandbox provider to report an outcome for one of its payments
 * (admin only). Reads the payment (no locks: the event carries its id and
 * amount, and the webhook decides everything under its own locks), and
 * returns the event to deliver; the caller starts the delivery after its
 * transaction has committed. Any status is accepted, as a real provider may
 * send a late or contradictory signal: that is what the webhook must survive.
 */
export async function requestSandboxEvent(
  m: EntityManager,
  sandbox: SandboxProvider,
  paymentId: string,
  type: PaymentEventType,
  request: SandboxRequest,
): Promise<{ event: PaymentEvent; accepted: SandboxAccepted }> {
  const payment = await findPayment(m, paymentId);
  if (!payment) throw new NotFoundError(`Payment ${paymentId}`);
  if (payment.provider !== sandbox.name) throw new InvalidStateError(`Payment ${paymentId} is not a ${sandbox.name} payment.`);
  const event = sandbox.newEvent({ id: payment.id, amountCents: payment.amountCents }, type);
  return { event, accepted: { paymentId: payment.id, type, eventId: event.id, deliveries: 1 + request.duplicates } };
}
