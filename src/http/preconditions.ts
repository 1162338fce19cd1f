import type { Request } from "express";
import { PreconditionRequiredError, ValidationError } from "../errors.js";

/**
 * The expected version of a versioned update: `If-Match: "<version>"` (a
 * strong ETag as we send it, or the bare number) or `version` in the body.
 * Neither → 428. Both and different → 422, since we cannot tell which the
 * client meant.
 */
export function expectedVersion(req: Request, bodyVersion: number | undefined): number {
  const header = req.get("If-Match");
  let fromHeader: number | undefined;
  if (header !== undefined) {
    const m = /^\s*(?:W\/)?"?(\d{1,10})"?\s*$/.exec(header);
    const n = m ? Number(m[1]) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 2_147_483_647) {
      throw new ValidationError([{ path: "header.If-Match", message: 'expected an ETag of the form "<version>"' }]);
    }
    fromHeader = n;
  }
  if (fromHeader !== undefined && bodyVersion !== undefined && fromHeader !== bodyVersion) {
    throw new ValidationError([{ path: "version", message: "differs from If-Match" }]);
  }
  const v = fromHeader ?? bodyVersion;
  if (v === undefined) throw new PreconditionRequiredError();
  return v;
}
