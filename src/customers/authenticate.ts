import type { DataSource } from "typeorm";
import { constantTimeEquals, hashApiKey } from "../auth/api-keys.js";
import type { Caller } from "../auth/caller.js";
import { findCustomerIdByKeyHash } from "./customer-store.js";

/**
 * Resolves a bearer key to a caller, or undefined for an unknown key. The
 * admin key is compared in constant time; customer keys are looked up by hash.
 */
export async function authenticate(ds: DataSource, adminApiKey: string, key: string): Promise<Caller | undefined> {
  if (constantTimeEquals(key, adminApiKey)) return { kind: "admin" };
  if (!key.startsWith("ol_cust_") || key.length > 200) return undefined;
  const customerId = await findCustomerIdByKeyHash(ds.manager, hashApiKey(key));
  return customerId ? { kind: "customer", customerId } : undefined;
}
