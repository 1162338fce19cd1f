import type { DataSource, EntityManager } from "typeorm";
import { WebhookEndpoint } from "../../entities/webhook-endpoint.entity.js";
import { asEntity, callOnce, sql } from "../db/sql.js";
import type { EndpointHealth } from "./webhook-endpoint-view.js";

type Row = Record<string, unknown> & {
  last_success_at: Date | null;
  last_failure_at: Date | null;
  last_error: string | null;
  failing_streak: number | null;
  pending: string;
};

/** An endpoint row with its relay state; deleted endpoints are not found. */
const SELECT = `SELECT w.*, s.last_success_at, s.last_failure_at, s.last_error, s.failing_streak,
                       (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND d.status = 'pending') AS pending
                  FROM webhook_endpoints w LEFT JOIN webhook_endpoint_states s ON s.endpoint_id = w.id
                 WHERE w.deleted_at IS NULL`;

export type EndpointWithHealth = { endpoint: WebhookEndpoint; health: EndpointHealth };

function toEndpoint(m: EntityManager | DataSource, r: Row): EndpointWithHealth {
  return {
    endpoint: asEntity(m, WebhookEndpoint, r),
    health: {
      lastSuccessAt: r.last_success_at,
      lastFailureAt: r.last_failure_at,
      lastError: r.last_error,
      failingStreak: r.failing_streak ?? 0,
      pendingDeliveries: Number(r.pending),
    },
  };
}

export async function findEndpoint(m: EntityManager, id: string): Promise<EndpointWithHealth | undefined> {
  const r = (await sql<Row>(m, `${SELECT} AND w.id = $1`, [id])).rows[0];
  return r ? toEndpoint(m, r) : undefined;
}

export async function readEndpoint(ds: DataSource, id: string): Promise<EndpointWithHealth | undefined> {
  const r = (await callOnce<Row>(ds, `${SELECT} AND w.id = $1`, [id])).rows[0];
  return r ? toEndpoint(ds, r) : undefined;
}

/** Oldest first, keyset on (created_at, id). */
export async function readEndpoints(
  ds: DataSource,
  after: { createdAt: string; id: string } | undefined,
  limit: number,
): Promise<EndpointWithHealth[]> {
  const { rows } = await callOnce<Row>(
    ds,
    `${SELECT} AND ($1::timestamptz IS NULL OR (w.created_at, w.id) > ($1::timestamptz, $2::uuid))
      ORDER BY w.created_at, w.id LIMIT $3`,
    [after?.createdAt ?? null, after?.id ?? null, limit],
  );
  return rows.map((r) => toEndpoint(ds, r));
}
