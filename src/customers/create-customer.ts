import type { EntityManager } from "typeorm";
import { hashApiKey, newCustomerApiKey } from "../auth/api-keys.js";
import { insertCustomer } from "./customer-store.js";

/**
 * Issues a customer and its API key. The key is returned once, here, and
 * only its SHA-256 is stored.
 */
export async function createCustomer(m: EntityManager, input: { name: string }) {
  const apiKey = newCustomerApiKey();
  const row = await insertCustomer(m, input.name, hashApiKey(apiKey));
  return { id: row.id, name: row.name, apiKey, createdAt: row.created_at.toISOString() };
}
