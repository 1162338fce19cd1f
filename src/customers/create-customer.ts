import type { EntityManager } from "typeorm";
import { hashApiKey, newCustomerApiKey } from "../auth/api-keys.js";
import { insertCustomer, insertKeyInFreeSlot } from "./customer-store.js";

/**
 * Issues a customer and its first API key, in the caller's transaction. The
 * key is returned once, here, and only its SHA-256 is stored; it is listed,
 * rotated and revoked like any later key (issue-api-key.ts).
 */
export async function createCustomer(m: EntityManager, input: { name: string }) {
  const apiKey = newCustomerApiKey();
  const row = await insertCustomer(m, input.name);
  const key = await insertKeyInFreeSlot(m, row.id, hashApiKey(apiKey));
  if (!key) throw new Error("a new customer has no free key slot"); // cannot happen: the customer was inserted just now
  return { id: row.id, name: row.name, apiKey, createdAt: row.createdAt.toISOString() };
}
