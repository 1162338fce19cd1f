import { Router } from "express";
import { z } from "zod";
import { createCustomer } from "../../customers/create-customer.js";
import { created, type RunCommand } from "../command.js";
import { nameSchema } from "../schemas.js";
import { body, requireAdmin } from "../validate.js";

export const createCustomerBody = z.strictObject({ name: nameSchema });

export function customersRouter(run: RunCommand): Router {
  const r = Router();
  r.post("/v1/customers", async (req, res) => {
    requireAdmin(req);
    const input = body(req, createCustomerBody);
    await run(req, res, { keyRequired: false }, async (m) => {
      const customer = await createCustomer(m, input);
      return created(customer, `/v1/customers/${customer.id}`);
    });
  });
  return r;
}
