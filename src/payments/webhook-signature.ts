import { createHmac, timingSafeEqual } from "node:crypto";
import { InvalidSignatureError } from "../errors.js";
import { paymentMetrics } from "../metrics/registry.js";

/**
 * Webhook signatures (the scheme Stripe uses):
 *   Payment-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 * The timestamp is inside the signed bytes, so a captured delivery cannot be
 * replayed with a fresh `t`; the tolerance bounds how long a captured one
 * stays usable. Several v1 entries are allowed (one per secret during a
 * rotation); one match is enough. Comparison is constant-time over the
 * decoded 32-byte digests.
 */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

const HEX_SHA256 = /^[0-9a-f]{64}$/;

function digest(secret: string, timestamp: string, rawBody: Buffer): Buffer {
  return createHmac("sha256", secret).update(`${timestamp}.`, "utf8").update(rawBody).digest();
}

/** The header value for `rawBody`, signed at `nowSeconds` (the sandbox provider and tests sign with this). */
export function signWebhook(secret: string, rawBody: Buffer | string, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const body = typeof rawBody === "string" ? Buffer.from(rawBody, "utf8") : rawBody;
  const t = String(nowSeconds);
  return `t=${t},v1=${digest(secret, t, body).toString("hex")}`;
}

/**
 * Throws 401 invalid_signature unless `header` carries a valid signature of
 * exactly `rawBody` made within ±300 s of `nowSeconds`. Nothing else about the
 * request may be trusted, or even parsed for meaning, before this passes.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | undefined,
  rawBody: Buffer | undefined,
  nowSeconds = Math.floor(Date.now() / 1000),
): void {
  const reason = checkSignature(secret, header, rawBody ?? Buffer.alloc(0), nowSeconds);
  if (reason) {
    paymentMetrics.webhookEvents.inc({ outcome: "invalid_signature" });
    throw new InvalidSignatureError(reason);
  }
}

function checkSignature(secret: string, header: string | undefined, rawBody: Buffer, nowSeconds: number): string | undefined {
  if (!header || header.length > 1024) return "The Payment-Signature header is missing.";
  let timestamp: string | undefined;
  const candidates: Buffer[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t") timestamp = value;
    else if (key === "v1" && HEX_SHA256.test(value)) candidates.push(Buffer.from(value, "hex"));
  }
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp) || candidates.length === 0) {
    return "The Payment-Signature header is malformed: expected t=<unix seconds>,v1=<hex>.";
  }
  if (Math.abs(nowSeconds - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) {
    return `The signature timestamp is outside the ${SIGNATURE_TOLERANCE_SECONDS} s tolerance.`;
  }
  const expected = digest(secret, timestamp, rawBody);
  // Every candidate is compared (no early exit), each in constant time over equal-length buffers.
  let matched = false;
  for (const candidate of candidates) {
    if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
  }
  return matched ? undefined : "The signature does not match the body.";
}
