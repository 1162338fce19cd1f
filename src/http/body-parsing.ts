import express, { type NextFunction, type Request, type Response } from "express";
import { MalformedJsonError, PayloadTooLargeError, UnsupportedMediaTypeError } from "../errors.js";

export const BODY_LIMIT_BYTES = 64 * 1024;

function hasBody(req: Request): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

function isJson(req: Request): boolean {
  const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
}

const jsonParser = express.json({
  limit: BODY_LIMIT_BYTES,
  strict: true,
  type: () => true, // the content type was checked below
  // Keep the exact bytes: webhook signatures are over the raw body.
  verify: (req, _res, buf) => {
    (req as Request).rawBody = Buffer.from(buf);
  },
});

/**
 * JSON bodies only, at most 64 KiB. A body with another content type → 415;
 * too large → 413 (checked from Content-Length before reading, and while
 * reading); unparsable → 400. A POST with no body at all reads as `{}`.
 */
export function parseJsonBody(req: Request, res: Response, next: NextFunction) {
  // DELETE has no body in this API (RFC 9110 gives one no meaning): it is not read.
  if (!["POST", "PUT", "PATCH"].includes(req.method)) return next();
  if (!hasBody(req)) {
    req.body = {};
    req.rawBody = Buffer.alloc(0);
    return next();
  }
  if (Number(req.headers["content-length"]) > BODY_LIMIT_BYTES) return next(new PayloadTooLargeError(BODY_LIMIT_BYTES));
  if (!isJson(req)) return next(new UnsupportedMediaTypeError());
  jsonParser(req, res, (err?: unknown) => {
    if (!err) {
      if (req.body === undefined) req.body = {};
      return next();
    }
    const type = (err as { type?: string }).type;
    if (type === "entity.too.large") return next(new PayloadTooLargeError(BODY_LIMIT_BYTES));
    if (type === "entity.parse.failed") return next(new MalformedJsonError());
    if (type === "charset.unsupported" || type === "encoding.unsupported") return next(new UnsupportedMediaTypeError());
    return next(err);
  });
}
