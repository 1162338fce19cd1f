import type { Request } from "express";
import { z } from "zod";
import { ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from "../errors.js";
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

/**
 * A path id (`:id`, `:sku`). One that fails its schema cannot name anything
 * that exists, so it is a 404 like any unknown id, never a 422 or a 500.
 */
export function pathId(req: Request, name: string, schema: z.ZodType<string>, what: string): string {
  const raw = req.params[name];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new NotFoundError(`${what} ${String(raw).slice(0, 64)}`);
  return parsed.data;
}

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
