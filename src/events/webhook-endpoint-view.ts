import { z } from "zod";
import type { WebhookEndpoint } from "../../entities/webhook-endpoint.entity.js";
import { EVENT_TYPES } from "./append-event.js";

const timestamp = z.iso.datetime();

/** The relay's view of an endpoint's health (webhook_endpoint_states). */
export type EndpointHealth = {
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  lastError: string | null;
  failingStreak: number;
  pendingDeliveries: number;
};

/** A webhook endpoint as the API shows it: never its secret (that is shown once, at creation). */
export const webhookEndpointView = z
  .object({
    id: z.uuid(),
    url: z.string(),
    eventTypes: z.array(z.enum(EVENT_TYPES)).nullable(),
    description: z.string().nullable(),
    status: z.enum(["enabled", "disabled"]),
    version: z.int(),
    createdAt: timestamp,
    updatedAt: timestamp,
    health: z.object({
      lastSuccessAt: timestamp.nullable(),
      lastFailureAt: timestamp.nullable(),
      lastError: z.string().nullable(),
      failingStreak: z.int(),
      pendingDeliveries: z.int(),
    }),
  })
  .meta({ id: "WebhookEndpoint" });
export type WebhookEndpointView = z.infer<typeof webhookEndpointView>;

export const createdWebhookEndpointView = webhookEndpointView
  .extend({ secret: z.string().nullable() })
  .meta({ id: "WebhookEndpointWithSecret", description: "`secret` is shown here once; an Idempotency-Key replay shows null." });

export const webhookDeliveryAttemptView = z
  .object({
    eventId: z.string(),
    attempt: z.int(),
    status: z.enum(["delivered", "failed", "refused", "abandoned"]),
    httpStatus: z.int().nullable(),
    durationMs: z.int(),
    error: z.string().nullable(),
    at: timestamp,
  })
  .meta({ id: "WebhookDeliveryAttempt" });

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The one rendering of an endpoint. */
export function renderWebhookEndpoint(e: WebhookEndpoint, h: EndpointHealth): WebhookEndpointView {
  return {
    id: e.id,
    url: e.url,
    eventTypes: e.eventTypes as WebhookEndpointView["eventTypes"],
    description: e.description,
    status: e.status,
    version: e.version,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
    health: {
      lastSuccessAt: iso(h.lastSuccessAt),
      lastFailureAt: iso(h.lastFailureAt),
      lastError: h.lastError,
      failingStreak: h.failingStreak,
      pendingDeliveries: h.pendingDeliveries,
    },
  };
}
