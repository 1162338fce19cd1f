import type { DataSource } from "typeorm";
import { constantTimeEquals, hashApiKey } from "../auth/api-keys.js";
import type { Caller } from "../auth/caller.js";
import { findCustomerIdByKeyHash } from "./customer-store.js";

/**
 * Known key hashes → customer ids, so a busy customer's requests skip one
 * database round trip each. Safe because the mapping never changes: a key
 * belongs to one customer for life and customers are never deleted (a key
 * that is not found is not cached, so a new customer works at once). It is
 * bounded, and nothing about correctness depends on it.
 */
const CACHE_LIMIT = 10_000;
const knownKeys = new Map<string, string>();

/**
 * Resolves a bearer key to a caller, or undefined for an unknown key. The
 * admin key is compared in constant time; customer keys are looked up by hash.
 */
export async function authenticate(ds: DataSource, adminApiKey: string, key: string): Promise<Caller | undefined> {
  if (constantTimeEquals(key, adminApiKey)) return { kind: "admin" };
  if (!key.startsWith("ol_cust_") || key.length > 200) return undefined;
  const hash = hashApiKey(key);
  let customerId = knownKeys.get(hash);
  if (!customerId) {
    customerId = await findCustomerIdByKeyHash(ds, hash);
    if (!customerId) return undefined;
    if (knownKeys.size >= CACHE_LIMIT) knownKeys.delete(knownKeys.keys().next().value!);
    knownKeys.set(hash, customerId);
  }
  return { kind: "customer", customerId };
}
