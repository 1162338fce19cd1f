import type { Request } from "express";
import { z } from "zod";
import { ForbiddenError, UnauthorizedError, ValidationError } from "../errors.js";
import type { Caller } from "../auth/caller.js";

/** Parses `data` with a zod schema; failure → 422 validation_failed with one entry per issue. */
export function parseWith<S extends z.ZodType>(schema: S, data: unknown, prefix?: string): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const errors = result.error.issues.map((i) => ({
    path: [prefix, ...i.path.map(String)].filter((p) => p !== undefined && p !== "").join(".") || (prefix ?? ""),
    message: i.message,
  }));
  throw new ValidationError(errors);
}

export const body = <S extends z.ZodType>(req: Request, schema: S) => parseWith(schema, req.body ?? {}, undefined);
export const query = <S extends z.ZodType>(req: Request, schema: S) => parseWith(schema, req.query, "query");
export const params = <S extends z.ZodType>(req: Request, schema: S) => parseWith(schema, req.params, "path");

export function callerOf(req: Request): Caller {
  if (!req.caller) throw new UnauthorizedError();
  return req.caller;
}

export function requireAdmin(req: Request): void {
  if (callerOf(req).kind !== "admin") throw new ForbiddenError();
}

export function requireCustomer(req: Request): string {
  const caller = callerOf(req);
  if (caller.kind !== "customer") throw new ForbiddenError("This route needs a customer key.");
  return caller.customerId;
}
