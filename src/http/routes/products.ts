import { Router } from "express";
import type { DataSource } from "typeorm";
import { z } from "zod";
import { inTransaction } from "../../db/in-transaction.js";
import { adjustStock } from "../../inventory/adjust-stock.js";
import { createProduct } from "../../inventory/create-product.js";
import { getProductOrThrow, listProducts } from "../../inventory/get-product.js";
import { updateProduct } from "../../inventory/update-product.js";
import { created, ok, type RunCommand, sendStored } from "../command.js";
import { expectedVersion } from "../preconditions.js";
import { cursorQuery, limitQuery, nameSchema, priceCentsSchema, skuSchema, versionSchema } from "../schemas.js";
import { body, pathId, query, requireAdmin } from "../validate.js";

export const createProductBody = z.strictObject({
  sku: skuSchema,
  name: nameSchema,
  priceCents: priceCentsSchema,
  onHand: z.int().min(0).max(1_000_000_000),
});
export const updateProductBody = z
  .strictObject({ name: nameSchema.optional(), priceCents: priceCentsSchema.optional(), version: versionSchema.optional() })
  .refine((b) => b.name !== undefined || b.priceCents !== undefined, { message: "nothing to change: give name or priceCents" });
export const stockAdjustmentBody = z.strictObject({
  delta: z
    .int()
    .min(-1_000_000_000)
    .max(1_000_000_000)
    .refine((d) => d !== 0, { message: "must not be zero" }),
  reason: z.string().trim().min(1).max(500),
});
export const listProductsQuery = z.strictObject({ limit: limitQuery, cursor: cursorQuery });

export function productsRouter(ds: DataSource, run: RunCommand): Router {
  const r = Router();

  r.post("/v1/products", async (req, res) => {
    requireAdmin(req);
    const input = body(req, createProductBody);
    await run(req, res, { keyRequired: false }, async (m) => {
      const product = await createProduct(m, input);
      return created(product, `/v1/products/${encodeURIComponent(product.sku)}`, product.version);
    });
  });

  r.get("/v1/products", async (req, res) => {
    res.json(await listProducts(ds.manager, query(req, listProductsQuery)));
  });

  r.get("/v1/products/:sku", async (req, res) => {
    const product = await getProductOrThrow(ds.manager, pathId(req, "sku", skuSchema, "Product"));
    sendStored(res, ok(product, product.version), false);
  });

  r.patch("/v1/products/:sku", async (req, res) => {
    requireAdmin(req);
    const sku = pathId(req, "sku", skuSchema, "Product");
    const input = body(req, updateProductBody);
    const version = expectedVersion(req, input.version);
    const product = await inTransaction(ds, (m) => updateProduct(m, sku, version, input), { retry: false });
    sendStored(res, ok(product, product.version), false);
  });

  r.post("/v1/products/:sku/stock-adjustments", async (req, res) => {
    requireAdmin(req);
    const sku = pathId(req, "sku", skuSchema, "Product");
    const input = body(req, stockAdjustmentBody);
    await run(req, res, { keyRequired: false }, async (m) => {
      const product = await adjustStock(m, sku, input);
      return ok(product, product.version);
    });
  });

  return r;
}
