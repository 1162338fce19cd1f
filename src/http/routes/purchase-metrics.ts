import { Router } from "express";
import type { DataSource } from "typeorm";
import { z } from "zod";
import type { ReadReplica } from "../../db/read-replica.js";
import { readPurchases } from "../../metrics/read-purchases.js";
import { reconcilePurchases } from "../../metrics/reconcile-purchases.js";
import { query, requireAdmin } from "../validate.js";

export const MAX_RANGE_DAYS = 366;

/** A real calendar day as YYYY-MM-DD (2023-02-30 is not one), years 0001-9999. */
const calendarDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "expected a date as YYYY-MM-DD")
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s && s >= "0001-01-01";
  }, "not a calendar date");

const dayNumber = (s: string) => Date.parse(`${s}T00:00:00Z`) / 86_400_000;

export const purchasesQuery = z.strictObject({ from: calendarDay, to: calendarDay }).superRefine(({ from, to }, ctx) => {
  if (from > to) ctx.addIssue({ code: "custom", path: ["to"], message: "must not be before from" });
  else if (dayNumber(to) - dayNumber(from) + 1 > MAX_RANGE_DAYS) {
    ctx.addIssue({ code: "custom", path: ["to"], message: `the range may span at most ${MAX_RANGE_DAYS} days` });
  }
});

/**
 * Purchase counters and their reconciliation (admin). UTC days throughout.
 * The counters are read from the replica while it is fresh (src/db/read-replica.ts);
 * reconciliation always reads the primary.
 */
export function purchaseMetricsRouter(ds: DataSource, reads: ReadReplica): Router {
  const r = Router();
  r.get("/v1/metrics/purchases", async (req, res) => {
    requireAdmin(req);
    const { from, to } = query(req, purchasesQuery);
    res.json(await reads.read((db) => readPurchases(db, from, to)));
  });
  r.get("/v1/metrics/purchases/reconciliation", async (req, res) => {
    requireAdmin(req);
    res.json(await reconcilePurchases(ds));
  });
  return r;
}
