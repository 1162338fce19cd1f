import { randomUUID } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import type { Logger } from "pino";
import { pinoHttp } from "pino-http";
import { httpMetrics } from "../metrics/registry.js";

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

function routeOf(req: Request): string {
  return req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : "unmatched";
}

/** JSON access log with request id, route, status and latency; X-Request-Id is echoed. */
export function requestLogging(logger: Logger) {
  return pinoHttp({
    logger,
    genReqId: (req, res) => {
      const given = req.headers["x-request-id"];
      const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
      res.setHeader("X-Request-Id", id);
      return id;
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "error" : "info"),
    customSuccessObject: (req, res, val) => ({ ...val, route: routeOf(req as Request) }),
    customErrorObject: (req, res, err, val) => ({ ...val, route: routeOf(req as Request) }),
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  });
}

export function requestMetrics(req: Request, res: Response, next: NextFunction): void {
  const end = httpMetrics.duration.startTimer();
  res.on("finish", () => end({ method: req.method, route: routeOf(req), status: String(res.statusCode) }));
  next();
}
