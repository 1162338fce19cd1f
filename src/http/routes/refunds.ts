import { type Request, Router } from "express";
import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { z } from "zod";
import type { PaymentProvider } from "../../payments/providers/payment-provider.js";
import { getRefundOrThrow, listPaymentRefunds } from "../../refunds/get-refund.js";
import { requestRefund } from "../../refunds/request-refund.js";
import { submitRefund } from "../../refunds/submit-refund.js";
import { created, ok, type RunCommand, sendStored } from "../command.js";
import { cursorQuery, limitQuery, skuSchema, uuidSchema } from "../schemas.js";
import { body, pathId, query, requireAdmin } from "../validate.js";
import { paymentIdParam } from "./payments.js";

export const createRefundBody = z.strictObject({
  amountCents: z.int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  reason: z.string().min(1).max(500),
  lines: z
    .array(z.strictObject({ sku: skuSchema, quantity: z.int().min(1).max(10_000), restock: z.boolean() }))
    .max(100)
    .superRefine((lines, ctx) => {
      const seen = new Set<string>();
      lines.forEach((l, i) => {
        if (seen.has(l.sku)) ctx.addIssue({ code: "custom", path: [i, "sku"], message: `SKU ${l.sku} appears more than once` });
        seen.add(l.sku);
      });
    })
    .optional(),
});
export const listRefundsQuery = z.strictObject({ limit: limitQuery, cursor: cursorQuery });

const refundIdParam = (req: Request) => pathId(req, "id", uuidSchema, "Refund").toLowerCase();

/** Refunds (admin). A new refund is requested from the provider after its COMMIT, never inside it. */
export function refundsRouter(ds: DataSource, run: RunCommand, deps: { provider: PaymentProvider; logger: Logger }): Router {
  const r = Router();

  r.post("/v1/payments/:id/refunds", async (req, res) => {
    requireAdmin(req);
    const paymentId = paymentIdParam(req);
    const input = body(req, createRefundBody);
    let toSubmit: string | undefined; // set only by a committed first run, never by a replay
    await run(req, res, { keyRequired: true }, async (m) => {
      const refund = await requestRefund(m, paymentId, input);
      toSubmit = refund.id;
      return created(refund, `/v1/refunds/${refund.id}`, refund.version);
    });
    if (toSubmit) {
      const refundId = toSubmit;
      submitRefund(ds, deps.provider, refundId).catch((err: unknown) =>
        (req.log ?? deps.logger).warn({ err, refundId }, "refund request to the provider failed; the sweeper retries it"),
      );
    }
  });

  r.get("/v1/refunds/:id", async (req, res) => {
    requireAdmin(req);
    const refund = await getRefundOrThrow(ds.manager, refundIdParam(req));
    sendStored(res, ok(refund, refund.version), false);
  });

  r.get("/v1/payments/:id/refunds", async (req, res) => {
    requireAdmin(req);
    const paymentId = paymentIdParam(req);
    res.json(await listPaymentRefunds(ds.manager, paymentId, query(req, listRefundsQuery)));
  });

  return r;
}
