import { type Request, Router } from "express";
import type { DataSource } from "typeorm";
import { z } from "zod";
import { inTransaction } from "../../db/in-transaction.js";
import { OutOfStockError, problemAnswer, ValidationError } from "../../errors.js";
import { cancelOrder } from "../../orders/cancel-order.js";
import { changeOrder } from "../../orders/change-order.js";
import { getOrderOrThrow, listOrders } from "../../orders/get-order.js";
import { ORDER_STATUSES, renderOrder } from "../../orders/order-view.js";
import { type OrderPolicy, type PlaceOrderOutcome, placeOrder } from "../../orders/place-order.js";
import { created, idempotencyOf, ok, type RunCommand, type StoredResponse, sendStored } from "../command.js";
import { expectedVersion } from "../preconditions.js";
import { answerRateLimit, countRequest } from "../rate-limit.js";
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
  status: z.enum(ORDER_STATUSES).optional(),
});

/** An order id from the path; not a UUID → 404. */
export const orderIdParam = (req: Request) => pathId(req, "id", uuidSchema, "Order").toLowerCase();

/** The answer to POST /v1/orders, the first time and on every replay: made from the facts placeOrder returned. */
function placeOrderAnswer(result: PlaceOrderOutcome, lines: { sku: string }[]): StoredResponse {
  switch (result.outcome) {
    case "placed":
      return created(renderOrder(result.order), `/v1/orders/${result.order.id}`, result.order.version);
    case "out_of_stock":
      return problemAnswer(new OutOfStockError(result.unavailable));
    case "unknown_sku": {
      const position = new Map(lines.map((l, i) => [l.sku, i]));
      return problemAnswer(
        new ValidationError(
          result.unknownSkus.map((sku) => ({ path: `lines.${position.get(sku)}.sku`, message: `unknown SKU ${sku}` })),
          "The order names SKUs that do not exist.",
        ),
      );
    }
  }
}

/**
 * POST /v1/orders: its request is counted against the rate limit in the
 * order's own database call (placeOrder), so this router is mounted before
 * the rate-limit middleware; a request refused before that call is counted
 * on its own, as the middleware would.
 */
export function placeOrderRouter(ds: DataSource, policy: OrderPolicy & { idempotencyTtlHours: number }): Router {
  const r = Router();
  r.post("/v1/orders", async (req, res) => {
    let request: Omit<Parameters<typeof placeOrder>[1], "counted">;
    try {
      request = { customerId: requireCustomer(req), lines: body(req, placeOrderBody).lines, idempotency: idempotencyOf(req, true) };
    } catch (error) {
      await countRequest(ds, req, res, policy.rateLimitPerMinute);
      throw error;
    }
    const result = await placeOrder(ds, { ...request, counted: (rate) => answerRateLimit(res, rate) }, policy);
    sendStored(res, placeOrderAnswer(result, request.lines), result.replayed);
  });
  return r;
}

export function ordersRouter(ds: DataSource, run: RunCommand, policy: OrderPolicy & { idempotencyTtlHours: number }): Router {
  const r = Router();

  r.get("/v1/orders", async (req, res) => {
    res.json(await listOrders(ds.manager, callerOf(req), query(req, listOrdersQuery)));
  });

  r.get("/v1/orders/:id", async (req, res) => {
    const order = await getOrderOrThrow(ds.manager, callerOf(req), orderIdParam(req));
    sendStored(res, ok(order, order.version), false);
  });

  r.patch("/v1/orders/:id", async (req, res) => {
    const id = orderIdParam(req);
    const input = body(req, changeOrderBody);
    const version = expectedVersion(req, input.version);
    const order = await inTransaction(ds, (m) => changeOrder(m, callerOf(req), id, version, input.lines, policy.maxUnitsPerCustomerSku));
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
