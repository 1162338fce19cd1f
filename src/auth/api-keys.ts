import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Customer keys carry 192 random bits, so a fast hash is enough: no brute force is feasible. */
export function newCustomerApiKey(): string {
  return `ol_cust_${randomBytes(24).toString("base64url")}`;
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export function constantTimeEquals(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}
