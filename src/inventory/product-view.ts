import { z } from "zod";
import type { Product } from "../../entities/product.entity.js";

const timestamp = z.iso.datetime();

/** A product as the documentation shows it (OpenAPI examples). */
export const exampleProduct = {
  sku: "WIDGET-1",
  name: "Blue widget",
  priceCents: 1250,
  onHand: 100,
  reserved: 3,
  available: 97,
  version: 4,
  createdAt: "2026-12-01T09:30:00.000Z",
  updatedAt: "2026-12-01T10:02:11.000Z",
};

/** A product as the API shows it; the OpenAPI document describes it with this schema. */
export const productView = z
  .object({
    sku: z.string(),
    name: z.string(),
    priceCents: z.int(),
    onHand: z.int(),
    reserved: z.int(),
    available: z.int().describe("onHand - reserved"),
    version: z.int(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({
    id: "Product",
    examples: [exampleProduct],
  });
export type ProductView = z.infer<typeof productView>;

/** The one rendering of a product. */
export function renderProduct(p: Product): ProductView {
  return {
    sku: p.sku,
    name: p.name,
    priceCents: p.priceCents,
    onHand: p.onHand,
    reserved: p.reserved,
    available: p.onHand - p.reserved,
    version: p.version,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}
