import type { DataSource } from "typeorm";
import { NotFoundError } from "../errors.js";
import { decodeCursor, encodeCursor } from "../pagination.js";
import { readEndpoint, readEndpoints } from "./webhook-endpoint-store.js";
import { renderWebhookEndpoint, type WebhookEndpointView } from "./webhook-endpoint-view.js";

/** One endpoint with its health (never its secret). Reads only. */
export async function getWebhookEndpointOrThrow(ds: DataSource, id: string): Promise<WebhookEndpointView> {
  const found = await readEndpoint(ds, id);
  if (!found) throw new NotFoundError(`Webhook endpoint ${id}`);
  return renderWebhookEndpoint(found.endpoint, found.health);
}

/** Every endpoint, oldest first, keyset-paginated. Reads only. */
export async function listWebhookEndpoints(ds: DataSource, q: { limit: number; cursor?: string }) {
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, "query.cursor", 2);
  if (after && (Number.isNaN(Date.parse(after[0])) || !/^[0-9a-f-]{36}$/i.test(after[1]))) decodeCursor("", "query.cursor");
  const rows = await readEndpoints(ds, after ? { createdAt: after[0], id: after[1] } : undefined, q.limit + 1);
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => renderWebhookEndpoint(r.endpoint, r.health)),
    nextCursor: rows.length > q.limit ? encodeCursor([last.endpoint.createdAt.toISOString(), last.endpoint.id]) : null,
  };
}
