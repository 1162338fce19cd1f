import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { hashApiKey, hashesEqual } from "../auth/api-keys.js";
import type { Caller } from "../auth/caller.js";
import { findActiveKeyByHash, touchKeyLastUsed } from "./customer-store.js";

/**
 * How long an instance trusts what it learnt about a key. A revoked key must
 * get 401 on every instance within 5 s, without LISTEN/NOTIFY (it needs a
 * session, which a PgBouncer transaction pooler does not keep). Two ways
 * were weighed:
 * - a TTL on cache entries (this): a positive answer is reused for at most
 *   4 s, counted from when its lookup began, so a lookup that started before
 *   the revocation committed is dropped at most 4 s after it; revocation needs
 *   no cooperation from the revoking instance, and a database that cannot be
 *   read never extends a key's life. The cost is one indexed lookup per busy
 *   key per instance every 4 s.
 * - a revocation counter read per request (a round trip each, what the cache
 *   exists to save), or polled by a timer (a per-instance job whose failures
 *   would have to expire the cache anyway, i.e. the TTL again, plus a lifecycle).
 * The TTL is the simplest rule that holds, and cheap enough.
 */
const KEY_CACHE_TTL_MS = 4000;
/** lastUsedAt is written at most this often per key (and per instance, before even asking the database). */
const LAST_USED_RESOLUTION_SECONDS = 60;
const CACHE_LIMIT = 10_000;

type Known = { customerId: string; keyId: string; checkedAtMs: number };

export type KeyAuthenticator = (key: string) => Promise<Caller | undefined>;

/**
 * Resolves bearer keys to callers for one app instance: the admin key by a
 * constant-time comparison, customer keys by hash against their active rows,
 * remembered for KEY_CACHE_TTL_MS. An unknown or revoked key is never
 * remembered, so a new key works at once. Each use of a key records its
 * lastUsedAt off the request path (not awaited, never waiting for a lock).
 */
export function createKeyAuthenticator(
  ds: DataSource,
  adminApiKey: string,
  logger: Logger,
  options: { cacheTtlMs?: number } = {},
): KeyAuthenticator {
  const ttlMs = options.cacheTtlMs ?? KEY_CACHE_TTL_MS;
  const adminKeyHash = hashApiKey(adminApiKey);
  const known = new Map<string, Known>();
  const touchedAtMs = new Map<string, number>();

  const remember = <V>(map: Map<string, V>, k: string, v: V) => {
    map.delete(k);
    if (map.size >= CACHE_LIMIT) map.delete(map.keys().next().value!);
    map.set(k, v);
  };

  const touch = (keyId: string, nowMs: number) => {
    const last = touchedAtMs.get(keyId);
    if (last !== undefined && nowMs - last < LAST_USED_RESOLUTION_SECONDS * 1000) return;
    remember(touchedAtMs, keyId, nowMs);
    touchKeyLastUsed(ds, keyId, LAST_USED_RESOLUTION_SECONDS).catch((err: unknown) =>
      logger.warn({ err: (err as Error).message }, "recording an API key's lastUsedAt failed"),
    );
  };

  return async (key) => {
    // One hash per request: compared with the admin key's, then looked up.
    const hash = hashApiKey(key);
    if (hashesEqual(hash, adminKeyHash)) return { kind: "admin" };
    if (!key.startsWith("ol_cust_") || key.length > 200) return undefined;
    const startedAtMs = Date.now();
    let entry = known.get(hash);
    if (!entry || startedAtMs - entry.checkedAtMs >= ttlMs) {
      const row = await findActiveKeyByHash(ds, hash);
      if (!row) {
        known.delete(hash);
        return undefined;
      }
      entry = { customerId: row.customer_id, keyId: row.id, checkedAtMs: startedAtMs };
      remember(known, hash, entry);
    }
    touch(entry.keyId, startedAtMs);
    return { kind: "customer", customerId: entry.customerId };
  };
}
