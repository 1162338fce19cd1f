import { Router } from "express";
import type { DataSource } from "typeorm";
import { z } from "zod";
import { inTransaction } from "../../db/in-transaction.js";
import { ValidationError } from "../../errors.js";
import { EVENT_TYPES } from "../../events/append-event.js";
import { createWebhookEndpoint } from "../../events/create-webhook-endpoint.js";
import { deleteWebhookEndpoint } from "../../events/delete-webhook-endpoint.js";
import { eventIdSchema } from "../../events/event-id.js";
import { getWebhookEndpointOrThrow, listWebhookEndpoints } from "../../events/get-webhook-endpoints.js";
import { listWebhookDeliveries } from "../../events/list-webhook-deliveries.js";
import { redeliverEvent } from "../../events/redeliver-event.js";
import { updateWebhookEndpoint } from "../../events/update-webhook-endpoint.js";
import { resolveAllowedUrl, type UrlPolicy, UrlRefusedError } from "../../events/url-policy.js";
import { created, ok, type RunCommand, sendStored } from "../command.js";
import { expectedVersion } from "../preconditions.js";
import { cursorQuery, limitQuery, uuidSchema, versionSchema } from "../schemas.js";
import { body, pathId, query, requireAdmin } from "../validate.js";

const urlSchema = z.string().trim().min(1).max(2048);
const eventTypesSchema = z.array(z.enum(EVENT_TYPES)).min(1).max(EVENT_TYPES.length);
const descriptionSchema = z.string().trim().max(500);

export const createWebhookEndpointBody = z.strictObject({
  url: urlSchema,
  eventTypes: eventTypesSchema.optional(),
  description: descriptionSchema.optional(),
});
export const updateWebhookEndpointBody = z
  .strictObject({
    url: urlSchema.optional(),
    eventTypes: eventTypesSchema.nullable().optional(),
    description: descriptionSchema.nullable().optional(),
    status: z.enum(["enabled", "disabled"]).optional(),
    version: versionSchema.optional(),
  })
  .refine((b) => b.url !== undefined || b.eventTypes !== undefined || b.description !== undefined || b.status !== undefined, {
    message: "nothing to change: give url, eventTypes, description or status",
  });
export const listWebhookEndpointsQuery = z.strictObject({ limit: limitQuery, cursor: cursorQuery });
export const redeliverEventBody = z.strictObject({ endpointId: uuidSchema });

export type WebhookSettings = { policy: UrlPolicy; retryHours: number };

/** The SSRF policy on a URL a client gives, outside any transaction (it resolves DNS): refused → 422. */
async function allowedUrl(policy: UrlPolicy, url: string): Promise<string> {
  try {
    await resolveAllowedUrl(policy, url);
    return url;
  } catch (err) {
    if (err instanceof UrlRefusedError) throw new ValidationError([{ path: err.path, message: err.message }]);
    throw err;
  }
}

/** Outgoing webhook endpoints and redelivery (admin). */
export function webhookEndpointsRouter(
  ds: DataSource,
  run: RunCommand,
  deps: { webhookSecret: string; webhooks: WebhookSettings },
): Router {
  const r = Router();
  const endpointId = (req: Parameters<typeof pathId>[0]) => pathId(req, "id", uuidSchema, "Webhook endpoint");

  r.post("/v1/webhook-endpoints", async (req, res) => {
    requireAdmin(req);
    const input = body(req, createWebhookEndpointBody);
    await allowedUrl(deps.webhooks.policy, input.url);
    await run(req, res, { keyRequired: false, secretMembers: ["secret"] }, async (m) => {
      const endpoint = await createWebhookEndpoint(m, deps.webhookSecret, input);
      return created(endpoint, `/v1/webhook-endpoints/${endpoint.id}`, endpoint.version);
    });
  });

  r.get("/v1/webhook-endpoints", async (req, res) => {
    requireAdmin(req);
    res.json(await listWebhookEndpoints(ds, query(req, listWebhookEndpointsQuery)));
  });

  r.get("/v1/webhook-endpoints/:id", async (req, res) => {
    requireAdmin(req);
    const endpoint = await getWebhookEndpointOrThrow(ds, endpointId(req));
    sendStored(res, ok(endpoint, endpoint.version), false);
  });

  r.patch("/v1/webhook-endpoints/:id", async (req, res) => {
    requireAdmin(req);
    const id = endpointId(req);
    const input = body(req, updateWebhookEndpointBody);
    const version = expectedVersion(req, input.version);
    if (input.url !== undefined) await allowedUrl(deps.webhooks.policy, input.url);
    const endpoint = await inTransaction(ds, (m) => updateWebhookEndpoint(m, id, version, input), { retry: false });
    sendStored(res, ok(endpoint, endpoint.version), false);
  });

  r.delete("/v1/webhook-endpoints/:id", async (req, res) => {
    requireAdmin(req);
    const id = endpointId(req);
    await inTransaction(ds, (m) => deleteWebhookEndpoint(m, id));
    res.status(204).end();
  });

  r.get("/v1/webhook-endpoints/:id/deliveries", async (req, res) => {
    requireAdmin(req);
    const id = endpointId(req);
    res.json(await listWebhookDeliveries(ds, id, query(req, listWebhookEndpointsQuery)));
  });

  r.post("/v1/events/:id/redeliver", async (req, res) => {
    requireAdmin(req);
    const eventId = pathId(req, "id", eventIdSchema, "Event");
    const input = body(req, redeliverEventBody);
    await run(req, res, { keyRequired: false }, async (m) => {
      await redeliverEvent(m, eventId, input.endpointId, deps.webhooks.retryHours);
      return { status: 202, body: { eventId, endpointId: input.endpointId, scheduled: true }, headers: {} };
    });
  });
  return r;
}
