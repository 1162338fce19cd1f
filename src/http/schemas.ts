import { z } from "zod";

/** Request schemas shared by routers (and, later, the OpenAPI document). */
export const skuSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit");
export const uuidSchema = z.uuid({ message: "not a valid id" });
export const nameSchema = z.string().trim().min(1).max(200);
export const priceCentsSchema = z.int().min(0).max(100_000_000);
export const versionSchema = z.int().min(1).max(2_147_483_647);

export const limitQuery = z.coerce.number().int().min(1).max(100).default(50);
export const cursorQuery = z.string().min(1).max(1000).optional();
