import { Router } from "express";
import type { DataSource } from "typeorm";
import { registry } from "../../metrics/registry.js";
import { isDraining } from "../draining.js";
import { buildOpenApiDocument } from "../openapi.js";

const READY_PROBE_TIMEOUT_MS = 2000;

/** Liveness, readiness (503 while draining) and Prometheus metrics; no API key needed. */
export function opsRouter(ds: DataSource): Router {
  const r = Router();
  r.use((_req, res, next) => {
    if (isDraining()) res.setHeader("Connection", "close");
    next();
  });
  const openApi = JSON.stringify(buildOpenApiDocument());
  r.get("/openapi.json", (_req, res) => {
    res.type("application/json").send(openApi);
  });
  r.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  // Bounded: a database that stopped answering makes /readyz 503 within
  // READY_PROBE_TIMEOUT_MS, not after the pool's query timeout.
  r.get("/readyz", async (_req, res) => {
    if (isDraining()) {
      res.setHeader("Retry-After", "1");
      res.status(503).json({ status: "unavailable", reason: "draining" });
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      if (!ds.isInitialized) throw new Error("not initialised");
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("readiness probe timed out")), READY_PROBE_TIMEOUT_MS);
      });
      const pending = await Promise.race([ds.showMigrations(), timeout]);
      if (pending) {
        res.status(503).json({ status: "unavailable", reason: "migrations pending" });
        return;
      }
      res.json({ status: "ready" });
    } catch {
      res.setHeader("Retry-After", "1");
      res.status(503).json({ status: "unavailable", reason: "database unreachable" });
    } finally {
      clearTimeout(timer);
    }
  });
  r.get("/metrics", async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  return r;
}
