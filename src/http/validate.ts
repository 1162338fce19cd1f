import type { Request } from "express";
import type { z } from "zod";
import type { Caller } from "../auth/caller.js";
import { ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from "../errors.js";

/** Paths of strings holding U+0000, which PostgreSQL text cannot store (JSON allows it). */
function nulPaths(value: unknown, path: string[], out: string[], depth = 0): void {
  if (typeof value === "string") {
    if (value.includes("\u0000")) out.push(path.join("."));
  } else if (value !== null && typeof value === "object" && depth < 64) {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes("\u0000")) out.push([...path, "(key)"].join("."));
      nulPaths(v, [...path, k], out, depth + 1);
    }
  }
}

/** Parses `data` with a zod schema; failure → 422 validation_failed with one entry per issue. */
export function parseWith<S extends z.ZodType>(schema: S, data: unknown, prefix?: string): z.output<S> {
  const nul: string[] = [];
  nulPaths(data, prefix ? [prefix] : [], nul);
  if (nul.length > 0) throw new ValidationError(nul.map((path) => ({ path, message: "must not contain the NUL character" })));
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const errors = result.error.issues.flatMap((i) => {
    const base = [prefix, ...i.path.map(String)].filter((p) => p !== undefined && p !== "");
    // An unknown member is reported at its own path, one entry each.
    if (i.code === "unrecognized_keys") return i.keys.map((k) => ({ path: [...base, k].join("."), message: "unknown member" }));
    return [{ path: base.join("."), message: i.message }];
  });
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
