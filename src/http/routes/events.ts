import { Router } from "express";
import type { DataSource } from "typeorm";
import { z } from "zod";
import { EVENT_TYPES } from "../../events/append-event.js";
import { listEvents } from "../../events/list-events.js";
import { cursorQuery, limitQuery } from "../schemas.js";
import { query, requireAdmin } from "../validate.js";

export const listEventsQuery = z.strictObject({ after: cursorQuery, limit: limitQuery, type: z.enum(EVENT_TYPES).optional() });

/** The events feed (admin): follow `nextCursor` from the start to see every event exactly once. */
export function eventsRouter(ds: DataSource): Router {
  const r = Router();
  r.get("/v1/events", async (req, res) => {
    requireAdmin(req);
    res.json(await listEvents(ds, query(req, listEventsQuery)));
  });
  return r;
}
