import type { DataSource, EntityManager } from "typeorm";
import { callOnce, sql } from "../db/sql.js";

/** All SQL about customers. */
export type CustomerRow = { id: string; name: string; created_at: Date };

export async function insertCustomer(m: EntityManager, name: string, apiKeyHash: string): Promise<CustomerRow> {
  const r = await sql<CustomerRow>(m, `INSERT INTO customers (name, api_key_hash) VALUES ($1, $2) RETURNING id, name, created_at`, [
    name,
    apiKeyHash,
  ]);
  return r.rows[0];
}

export async function findCustomerIdByKeyHash(ds: DataSource, apiKeyHash: string): Promise<string | undefined> {
  const [row] = (await callOnce<{ id: string }>(ds, `SELECT id FROM customers WHERE api_key_hash = $1`, [apiKeyHash])).rows;
  return row?.id;
}
