import { Router } from "express";
import type { DataSource } from "typeorm";
import { z } from "zod";
import { createCustomer } from "../../customers/create-customer.js";
import { issueApiKey } from "../../customers/issue-api-key.js";
import { listApiKeys } from "../../customers/list-api-keys.js";
import { revokeApiKey } from "../../customers/revoke-api-key.js";
import { inTransaction } from "../../db/in-transaction.js";
import { created, ok, type RunCommand, sendStored } from "../command.js";
import { nameSchema, uuidSchema } from "../schemas.js";
import { body, pathId, requireAdmin } from "../validate.js";

export const createCustomerBody = z.strictObject({ name: nameSchema });
export const issueApiKeyBody = z.strictObject({});

/** The member of these answers that is shown once and never stored (a replay answers it null). */
const ISSUED_KEY = { secretMembers: ["apiKey"] } as const;

export function customersRouter(ds: DataSource, run: RunCommand): Router {
  const r = Router();
  r.post("/v1/customers", async (req, res) => {
    requireAdmin(req);
    const input = body(req, createCustomerBody);
    await run(req, res, { keyRequired: false, ...ISSUED_KEY }, async (m) => {
      const customer = await createCustomer(m, input);
      return created(customer, `/v1/customers/${customer.id}`);
    });
  });

  r.post("/v1/customers/:id/keys", async (req, res) => {
    requireAdmin(req);
    const customerId = pathId(req, "id", uuidSchema, "Customer");
    body(req, issueApiKeyBody);
    await run(req, res, { keyRequired: false, ...ISSUED_KEY }, async (m) => {
      const key = await issueApiKey(m, customerId);
      return created(key, `/v1/customers/${customerId}/keys/${key.id}`);
    });
  });

  r.get("/v1/customers/:id/keys", async (req, res) => {
    requireAdmin(req);
    res.json(await listApiKeys(ds.manager, pathId(req, "id", uuidSchema, "Customer")));
  });

  r.delete("/v1/customers/:id/keys/:keyId", async (req, res) => {
    requireAdmin(req);
    const customerId = pathId(req, "id", uuidSchema, "Customer");
    const keyId = pathId(req, "keyId", uuidSchema, "API key");
    sendStored(res, ok(await inTransaction(ds, (m) => revokeApiKey(m, customerId, keyId))), false);
  });
  return r;
}
