import pg, { type Pool } from "pg";
import type { DataSource, EntityManager, EntityTarget, ObjectLiteral } from "typeorm";
import { classifyError } from "./postgres-errors.js";

/**
 * The two shapes a use case talks to the database in (ARCHITECTURE, habit 3):
 * - `callOnce(ds, ...)`: ONE statement that is its own transaction, straight
 *   on the pool (the hot paths' single function calls, and single-statement
 *   reads). TypeORM's PostgresDriver keeps its pg Pool as `master`; a
 *   QueryRunner per statement would cost measurable CPU on the hot path and
 *   add nothing to one statement.
 * - `sql(m, ...)`: a statement inside the transaction whose EntityManager
 *   the use case was handed (only src/db/in-transaction.ts begins one).
 */
export type SqlResult<T> = { rows: T[]; rowCount: number };

export function poolOf(ds: DataSource): Pool {
  return (ds.driver as unknown as { master: Pool }).master;
}

/** The server answered the statement with an error and the session is fine for the next one (callOnce). */
function keepsConnection(error: unknown): boolean {
  if (!(error instanceof pg.DatabaseError)) return false;
  const kind = classifyError(error);
  return kind !== "connection" && kind !== "read_only";
}

/**
 * Not pg-pool's `pool.query`: that closes the connection after ANY error,
 * and a new connection costs a backend's start and a SCRAM handshake
 * (thousands of hash rounds on both sides): 22 ms here, 5 of them Node's
 * CPU, where a call takes one to a few. A statement the server refused (a
 * conflict, a timeout, a raised OL429) leaves the connection ready for the
 * next, as TypeORM's transactions also keep theirs. Closed: a connection that failed, one whose error is not the
 * server's answer, and a read-only session (a demoted primary, or a database
 * switched read-only: a new session sees it switched back).
 */
export async function callOnce<T = Record<string, unknown>>(ds: DataSource, text: string, params: unknown[] = []): Promise<SqlResult<T>> {
  const client = await poolOf(ds).connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  client.once("error", onError);
  try {
    const r = await client.query(text, params);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  } catch (error) {
    if (!keepsConnection(error)) broken ??= error as Error;
    throw error;
  } finally {
    client.removeListener("error", onError);
    client.release(broken);
  }
}

export async function sql<T = Record<string, unknown>>(m: EntityManager, text: string, params: unknown[] = []): Promise<SqlResult<T>> {
  const runner = m.queryRunner;
  if (!runner || runner.isReleased || !runner.isTransactionActive) {
    throw new Error("sql(): not inside a transaction; use inTransaction() or callOnce()");
  }
  const r = await runner.query(text, params, true);
  return { rows: (r.records ?? []) as T[], rowCount: r.affected ?? 0 };
}

export async function sqlOne<T = Record<string, unknown>>(m: EntityManager, text: string, params: unknown[] = []): Promise<T | undefined> {
  return (await sql<T>(m, text, params)).rows[0];
}

/**
 * A raw row (column names, as a statement or a SQL function's facts return
 * it) as the entity describes it: property names, timestamps as Dates. The
 * entity is the one description of a row; this reads its column metadata.
 */
export function asEntity<T extends ObjectLiteral>(m: EntityManager | DataSource, entity: EntityTarget<T>, raw: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const c of columnsOf(("connection" in m ? m.connection : m) as DataSource, entity)) {
    let v = raw[c.column];
    if (v === undefined) continue;
    if (c.isTime && typeof v === "string") v = new Date(v);
    out[c.property] = v;
  }
  return out as T;
}

type ColumnMap = { column: string; property: string; isTime: boolean }[];
const columnMaps = new WeakMap<object, ColumnMap>();

/** An entity's columns (not its relations), read from its metadata once per DataSource. */
function columnsOf(ds: DataSource, entity: EntityTarget<ObjectLiteral>): ColumnMap {
  const meta = ds.getMetadata(entity);
  let map = columnMaps.get(meta);
  if (!map) {
    map = meta.columns
      .filter((c) => !c.relationMetadata)
      .map((c) => ({
        column: c.databaseName,
        property: c.propertyName,
        isTime: c.type === "timestamptz" || c.type === "timestamp with time zone",
      }));
    columnMaps.set(meta, map);
  }
  return map;
}
