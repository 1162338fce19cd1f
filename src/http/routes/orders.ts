import { type Request, Router } from "express";
import type { DataSource } from "typeorm";
import { z } from "zod";
import { cancelOrder } from "../../orders/cancel-order.js";
import { changeOrder } from "../../orders/change-order.js";
import { getOrderOrThrow, listOrders } from "../../orders/get-order.js";
import { type OrderPolicy, placeOrder } from "../../orders/place-order.js";
import { idempotencyOf, ok, type RunCommand, sendStored } from "../command.js";
import { expectedVersion } from "../preconditions.js";
import { cursorQuery, limitQuery, skuSchema, uuidSchema, versionSchema } from "../schemas.js";
import { body, callerOf, pathId, query, requireCustomer } from "../validate.js";

export const orderLinesSchema = z
  .array(z.strictObject({ sku: skuSchema, quantity: z.int().min(1).max(10_000) }))
  .min(1)
  .max(100)
  .superRefine((lines, ctx) => {
    const seen = new Set<string>();
    lines.forEach((l, i) => {
      if (seen.has(l.sku)) ctx.addIssue({ code: "custom", path: [i, "sku"], message: `SKU ${l.sku} appears more than once` });
      seen.add(l.sku);
    });
  });
export const placeOrderBody = z.strictObject({ lines: orderLinesSchema });
export const changeOrderBody = z.strictObject({ lines: orderLinesSchema, version: versionSchema.optional() });
export const cancelOrderBody = z.strictObject({});
export const listOrdersQuery = z.strictObject({
  limit: limitQuery,
  cursor: cursorQuery,
  status: z.enum(["reserved", "pending_payment", "paid", "cancelled", "expired"]).optional(),
});

/** An order id from the path; not a UUID → 404. */
export const orderIdParam = (req: Request) => pathId(req, "id", uuidSchema, "Order").toLowerCase();

export function ordersRouter(ds: DataSource, run: RunCommand, policy: OrderPolicy & { idempotencyTtlHours: number }): Router {
  const r = Router();

  r.post("/v1/orders", async (req, res) => {
    const customerId = requireCustomer(req);
    const input = body(req, placeOrderBody);
    const idempotency = idempotencyOf(req, true);
    const { response, replayed } = await placeOrder(ds, { customerId, lines: input.lines, idempotency }, policy);
    sendStored(res, response, replayed);
  });

  r.get("/v1/orders", async (req, res) => {
    res.json(await listOrders(ds, callerOf(req), query(req, listOrdersQuery)));
  });

  r.get("/v1/orders/:id", async (req, res) => {
    const order = await getOrderOrThrow(ds, callerOf(req), orderIdParam(req));
    sendStored(res, ok(order, order.version), false);
  });

  r.patch("/v1/orders/:id", async (req, res) => {
    const id = orderIdParam(req);
    const input = body(req, changeOrderBody);
    const version = expectedVersion(req, input.version);
    const order = await changeOrder(ds, callerOf(req), id, version, input.lines, policy.maxUnitsPerCustomerSku);
    sendStored(res, ok(order, order.version), false);
  });

  r.post("/v1/orders/:id/cancel", async (req, res) => {
    const id = orderIdParam(req);
    body(req, cancelOrderBody);
    await run(req, res, { keyRequired: false }, async (m) => {
      const order = await cancelOrder(m, callerOf(req), id);
      return ok(order, order.version);
    });
  });

  return r;
}
