import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import type { TestApp } from "./test-app.js";

export const uniqueSku = (prefix = "SKU") => `${prefix}-${randomBytes(5).toString("hex")}`;
export const uniqueKey = () => `key-${randomBytes(8).toString("hex")}`;

export async function createProduct(t: TestApp, fields: { sku?: string; name?: string; priceCents?: number; onHand?: number } = {}) {
  const body = { sku: uniqueSku(), name: "Widget", priceCents: 1000, onHand: 10, ...fields };
  const res = await t.http().post("/v1/products").set(t.admin).send(body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { sku: string; version: number; onHand: number; reserved: number; priceCents: number };
}

export async function createCustomer(t: TestApp, name = "Test customer") {
  const res = await t.http().post("/v1/customers").set(t.admin).send({ name });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const { id, apiKey } = res.body as { id: string; apiKey: string };
  return { id, apiKey, auth: { Authorization: `Bearer ${apiKey}` } };
}
