import { ValidationError } from "./errors.js";

/**
 * Opaque keyset cursors: base64url of a JSON array of the sort key of the
 * last item returned. Clients must treat them as opaque.
 */
export function encodeCursor(key: (string | number)[]): string {
  return Buffer.from(JSON.stringify(key), "utf8").toString("base64url");
}

export function decodeCursor(cursor: string, path: string, arity = 1): string[] {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(parsed) &&
      parsed.length === arity &&
      parsed.every((v) => typeof v === "string" && v.length <= 200 && !v.includes("\u0000"))
    ) {
      return parsed as string[];
    }
  } catch {
    // fall through
  }
  throw new ValidationError([{ path, message: "not a cursor returned by this API" }]);
}
