import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";

/**
 * An endpoint's signing secret (Standard Webhooks: `whsec_` + base64 of 32
 * random bytes). The sender must sign with it, so it cannot be stored as a
 * hash like an API key; it is stored encrypted with AES-256-GCM under a key
 * derived (HKDF-SHA256) from WEBHOOK_SECRET, the service's own secret, which
 * never enters the database. A database dump alone reveals no secret.
 * (Rotating WEBHOOK_SECRET therefore needs the endpoints' secrets re-issued.)
 */
export function newEndpointSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

function keyFrom(serviceSecret: string): Buffer {
  return Buffer.from(hkdfSync("sha256", serviceSecret, "orderlock", "webhook endpoint secrets v1", 32));
}

export function encryptEndpointSecret(serviceSecret: string, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyFrom(serviceSecret), iv);
  const ct = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
  return `v1:${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString("base64")}`;
}

export function decryptEndpointSecret(serviceSecret: string, stored: string): string {
  if (!stored.startsWith("v1:")) throw new Error("endpoint secret: unknown format");
  const raw = Buffer.from(stored.slice(3), "base64");
  const decipher = createDecipheriv("aes-256-gcm", keyFrom(serviceSecret), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
}

/** Standard Webhooks: `v1,` + base64 HMAC-SHA256 over "<id>.<timestamp>.<body>", keyed by the secret's base64-decoded bytes. */
export function signStandardWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`).digest("base64")}`;
}
