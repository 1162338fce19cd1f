import { type Request, Router } from "express";
import type { DataSource } from "typeorm";
import { z } from "zod";
import { type CreatePaymentDeps, completePaymentCreation, createPayment } from "../../payments/create-payment.js";
import { getPaymentOrThrow } from "../../payments/get-payment.js";
import { created, ok, type RunCommand, sendStored } from "../command.js";
import { uuidSchema } from "../schemas.js";
import { body, callerOf, pathId } from "../validate.js";

export const createPaymentBody = z.strictObject({});

/** An id that is not a UUID cannot name a payment (or order): 404, like any unknown id. */
export const paymentIdParam = (req: Request) => pathId(req, "id", uuidSchema, "Payment").toLowerCase();
const orderIdParam = (req: Request) => pathId(req, "id", uuidSchema, "Order").toLowerCase();

export function paymentsRouter(ds: DataSource, run: RunCommand, deps: CreatePaymentDeps): Router {
  const r = Router();

  r.post("/v1/orders/:id/payments", async (req, res) => {
    const orderId = orderIdParam(req);
    body(req, createPaymentBody);
    await run(
      req,
      res,
      { keyRequired: true },
      (m) => createPayment(m, callerOf(req), orderId, deps),
      (point, context, finish) =>
        completePaymentCreation(ds, point, context, finish, {
          ...deps,
          logger: req.log ?? deps.logger,
          answer: (payment) => created(payment, `/v1/payments/${payment.id}`, payment.version),
        }),
    );
  });

  r.get("/v1/payments/:id", async (req, res) => {
    const payment = await getPaymentOrThrow(ds.manager, callerOf(req), paymentIdParam(req));
    sendStored(res, ok(payment, payment.version), false);
  });

  return r;
}
