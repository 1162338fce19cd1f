import type { EntityManager } from "typeorm";
import { hashApiKey, newCustomerApiKey } from "../auth/api-keys.js";
import { InvalidStateError, NotFoundError } from "../errors.js";
import { insertKeyInFreeSlot, lockCustomer } from "./customer-store.js";

/** How many unrevoked keys a customer may hold: enough to rotate without downtime. */
const MAX_ACTIVE_KEYS = 2;

/**
 * Issues another API key for a customer (rotation: issue, deploy, revoke the
 * old one). Runs in the caller's transaction. Guarantees at most
 * MAX_ACTIVE_KEYS active keys also under concurrent requests, on any number
 * of instances: it locks the customer row first (FOR UPDATE), so issues for
 * one customer queue and each sees the keys the previous one committed; the
 * insert then takes a free slot, and the partial unique index on (customer,
 * slot) of active keys is the constraint behind the rule. Locks: the customer
 * row, then the new key row.
 *
 * The plaintext key is returned once and only its SHA-256 is stored.
 */
export async function issueApiKey(m: EntityManager, customerId: string) {
  if (!(await lockCustomer(m, customerId))) throw new NotFoundError(`Customer ${customerId}`);
  const apiKey = newCustomerApiKey();
  const row = await insertKeyInFreeSlot(m, customerId, hashApiKey(apiKey));
  if (!row) {
    throw new InvalidStateError(`The customer already has ${MAX_ACTIVE_KEYS} active API keys; revoke one before issuing another.`);
  }
  return { id: row.id, customerId, apiKey, createdAt: row.createdAt.toISOString() };
}
