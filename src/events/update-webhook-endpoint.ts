import type { EntityManager } from "typeorm";
import { WebhookEndpoint } from "../../entities/webhook-endpoint.entity.js";
import { compareAndSwap } from "../db/compare-and-swap.js";
import { NotFoundError, VersionConflictError } from "../errors.js";
import { concurrencyMetrics } from "../metrics/registry.js";
import type { EventType } from "./append-event.js";
import { findEndpoint } from "./webhook-endpoint-store.js";
import { renderWebhookEndpoint, type WebhookEndpointView } from "./webhook-endpoint-view.js";

/**
 * Versioned edit of an endpoint (url, event types, description, status), in
 * the caller's transaction (which must not retry). One compare-and-swap on
 * `version`, also excluding deleted endpoints; a stale version → 409 with the
 * current representation. A new URL has already passed the SSRF policy.
 * Disabling pauses deliveries (they stay pending until re-enabled or until
 * they run out of time); the cursor keeps fanning events out meanwhile.
 */
export async function updateWebhookEndpoint(
  m: EntityManager,
  id: string,
  expectedVersion: number,
  changes: { url?: string; eventTypes?: EventType[] | null; description?: string | null; status?: "enabled" | "disabled" },
): Promise<WebhookEndpointView> {
  const before = await findEndpoint(m, id);
  if (!before) throw new NotFoundError(`Webhook endpoint ${id}`);
  const set: Partial<Record<keyof WebhookEndpoint, unknown>> = {};
  if (changes.url !== undefined) set.url = changes.url;
  if (changes.eventTypes !== undefined) set.eventTypes = changes.eventTypes;
  if (changes.description !== undefined) set.description = changes.description;
  if (changes.status !== undefined) set.status = changes.status;
  const result = await compareAndSwap(m, WebhookEndpoint, id, expectedVersion, set);
  if (result.ok && result.row.deletedAt === null) return renderWebhookEndpoint(result.row, before.health);
  const current = await findEndpoint(m, id);
  if (!current) throw new NotFoundError(`Webhook endpoint ${id}`);
  concurrencyMetrics.versionConflicts.inc({ resource: "webhook_endpoint", source: "client" });
  throw new VersionConflictError(current.endpoint.version, renderWebhookEndpoint(current.endpoint, current.health));
}
