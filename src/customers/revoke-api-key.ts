import type { EntityManager } from "typeorm";
import { NotFoundError } from "../errors.js";
import { type ApiKeyView, findKey, revokeKey, toApiKeyView } from "./customer-store.js";

/**
 * Revokes a customer's key; revoking a revoked key changes nothing and
 * answers it again (with its first revokedAt). One conditional UPDATE in its
 * own transaction; only when it matched nothing does a second statement (a
 * fresh snapshot, so it sees a concurrent revocation that won) tell an
 * already revoked key from an unknown one. Runs in the caller's
 * transaction. Locks: the key row.
 *
 * Every instance stops accepting the key within KEY_CACHE_TTL_MS
 * (authenticate.ts) of the commit.
 */
export async function revokeApiKey(m: EntityManager, customerId: string, keyId: string): Promise<ApiKeyView> {
  const row = (await revokeKey(m, customerId, keyId)) ?? (await findKey(m, customerId, keyId));
  if (!row) throw new NotFoundError(`API key ${keyId}`);
  return toApiKeyView(row);
}
