import { type Request, Router } from "express";
import { z } from "zod";
import type { DisputeEventType, PaymentEventType, ProviderEvent, RefundEventType } from "../../payments/providers/payment-provider.js";
import type { SandboxProvider } from "../../payments/providers/sandbox-provider.js";
import { requestSandboxEvent } from "../../payments/request-sandbox-event.js";
import { requestSandboxDisputeEvent } from "../../refunds/request-sandbox-dispute-event.js";
import { requestSandboxRefundEvent } from "../../refunds/request-sandbox-refund-event.js";
import type { RunCommand } from "../command.js";
import { uuidSchema } from "../schemas.js";
import { body, pathId, requireAdmin } from "../validate.js";
import { paymentIdParam } from "./payments.js";

/** `duplicates`: deliver the same event (same event id) this many extra times, concurrently. */
export const sandboxEventBody = z.strictObject({ duplicates: z.int().min(0).max(50).default(0) });
/** A dispute signal: a new dispute unless `disputeId` names one; the payment's whole amount unless `amountCents` says. */
export const sandboxDisputeBody = sandboxEventBody.extend({
  disputeId: z.string().min(1).max(255).optional(),
  amountCents: z.int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
});

const PAYMENT_OUTCOMES: [string, PaymentEventType][] = [
  ["succeed", "payment.succeeded"],
  ["fail", "payment.failed"],
];
const REFUND_OUTCOMES: [string, RefundEventType][] = [
  ["succeed", "refund.succeeded"],
  ["fail", "refund.failed"],
];
const DISPUTE_SIGNALS: [string, DisputeEventType][] = [
  ["funds-withdrawn", "dispute.funds_withdrawn"],
  ["funds-reinstated", "dispute.funds_reinstated"],
];

const refundIdParam = (req: Request) => pathId(req, "id", uuidSchema, "Refund").toLowerCase();

/**
 * The sandbox provider's controls (admin). 202: the event is accepted and is
 * delivered to our own webhook after this response, in the background.
 */
export function sandboxRouter(run: RunCommand, sandbox: SandboxProvider): Router {
  const r = Router();
  /** Runs `request` as a command; a committed first run (never a replay) delivers its event after COMMIT. */
  const accept =
    <I extends { duplicates: number }>(
      parse: (req: Request) => I,
      request: (
        m: Parameters<Parameters<RunCommand>[3]>[0],
        req: Request,
        input: I,
      ) => Promise<{ event: ProviderEvent; accepted: unknown }>,
    ) =>
    async (req: Request, res: Parameters<RunCommand>[1]) => {
      requireAdmin(req);
      const input = parse(req);
      let toDeliver: ProviderEvent | undefined;
      await run(req, res, { keyRequired: false }, async (m) => {
        const { event, accepted } = await request(m, req, input);
        toDeliver = event;
        return { status: 202, body: accepted, headers: {} };
      });
      if (toDeliver) sandbox.deliverInBackground(toDeliver, input.duplicates);
    };

  for (const [action, type] of PAYMENT_OUTCOMES) {
    r.post(
      `/v1/sandbox/payments/:id/${action}`,
      accept(
        (req) => {
          paymentIdParam(req); // an id that names nothing is a 404 before the body is looked at
          return body(req, sandboxEventBody);
        },
        (m, req, input) => requestSandboxEvent(m, sandbox, paymentIdParam(req), type, input),
      ),
    );
  }
  for (const [action, type] of REFUND_OUTCOMES) {
    r.post(
      `/v1/sandbox/refunds/:id/${action}`,
      accept(
        (req) => {
          refundIdParam(req); // an id that names nothing is a 404 before the body is looked at
          return body(req, sandboxEventBody);
        },
        (m, req, input) => requestSandboxRefundEvent(m, sandbox, refundIdParam(req), type, input),
      ),
    );
  }
  for (const [action, type] of DISPUTE_SIGNALS) {
    r.post(
      `/v1/sandbox/payments/:id/${action}`,
      accept(
        (req) => {
          paymentIdParam(req); // an id that names nothing is a 404 before the body is looked at
          return body(req, sandboxDisputeBody);
        },
        (m, req, input) => requestSandboxDisputeEvent(m, sandbox, paymentIdParam(req), type, input),
      ),
    );
  }
  return r;
}
