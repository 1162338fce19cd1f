import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Customer keys carry 192 random bits, so a fast hash is enough: no brute force is feasible. */
export function newCustomerApiKey(): string {
  return `ol_cust_${randomBytes(24).toString("base64url")}`;
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Whether two hashes (hashApiKey) are equal, in time that does not depend on where they differ. */
export function hashesEqual(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
