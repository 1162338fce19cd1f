import type { EntityManager } from "typeorm";
import { NotFoundError } from "../errors.js";
import { type ApiKeyView, customerExists, listKeys, toApiKeyView } from "./customer-store.js";

/**
 * A customer's keys, active and revoked, oldest first: ids and times only,
 * never a secret. A customer holds few keys (two active at most), so the list
 * is not paged.
 */
export async function listApiKeys(m: EntityManager, customerId: string): Promise<{ items: ApiKeyView[] }> {
  const rows = await listKeys(m, customerId);
  if (rows.length === 0 && !(await customerExists(m, customerId))) throw new NotFoundError(`Customer ${customerId}`);
  return { items: rows.map(toApiKeyView) };
}
