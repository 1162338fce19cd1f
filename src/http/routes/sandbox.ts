import { Router } from "express";
import { z } from "zod";
import type { PaymentEvent, PaymentEventType } from "../../payments/providers/payment-provider.js";
import type { SandboxProvider } from "../../payments/providers/sandbox-provider.js";
import { requestSandboxEvent } from "../../payments/request-sandbox-event.js";
import type { RunCommand } from "../command.js";
import { body, requireAdmin } from "../validate.js";
import { paymentIdParam } from "./payments.js";

/** `duplicates`: deliver the same event (same event id) this many extra times, concurrently. */
export const sandboxEventBody = z.strictObject({ duplicates: z.int().min(0).max(50).default(0) });

const OUTCOMES: [string, PaymentEventType][] = [
  ["succeed", "payment.succeeded"],
  ["fail", "payment.failed"],
];

/**
 * The sandbox provider's controls (admin). 202: the event is accepted and is
 * delivered to our own webhook after this response, in the background.
 */
export function sandboxRouter(run: RunCommand, sandbox: SandboxProvider): Router {
  const r = Router();
  for (const [action, type] of OUTCOMES) {
    r.post(`/v1/sandbox/payments/:id/${action}`, async (req, res) => {
      requireAdmin(req);
      const paymentId = paymentIdParam(req);
      const input = body(req, sandboxEventBody);
      let toDeliver: PaymentEvent | undefined; // set only by a committed first run, never by a replay
      await run(req, res, { keyRequired: false }, async (m) => {
        const { event, accepted } = await requestSandboxEvent(m, sandbox, paymentId, type, input);
        toDeliver = event;
        return { status: 202, body: accepted, headers: {} };
      });
      if (toDeliver) sandbox.deliverInBackground(toDeliver, input.duplicates);
    });
  }
  return r;
}
