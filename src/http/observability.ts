import { randomUUID } from "node:crypto";
import type { Express, NextFunction, Request, Response } from "express";
import type { Logger } from "pino";
import { httpMetrics } from "../metrics/registry.js";

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

function routeOf(req: Request): string {
  return req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : "unmatched";
}

/**
 * Per request: an id (X-Request-Id, echoed when the client sent a sane one),
 * a logger bound to it (req.log), one JSON access-log line (id, method,
 * route, status, latency; 5xx at error level), the latency histogram and
 * the gauge of requests in flight. Deliberately lean, one `close` listener:
 * this runs on every request of the hot paths.
 *
 * req.log is a getter defined once on the app's request prototype, and the
 * child logger is made only when something logs. Defining it on each request
 * (as this did before) gave every request object a shape of its own, and V8
 * runs every later property access on such objects slowly (measured: ~20 µs
 * of CPU per request on this project's machine).
 */
export function observeRequests(app: Express, logger: Logger) {
  const accessLog = logger.isLevelEnabled("info");
  const boundLoggers = new WeakMap<Request, Logger>();
  Object.defineProperty(app.request, "log", {
    configurable: true,
    get(this: Request): Logger {
      let bound = boundLoggers.get(this);
      if (!bound) {
        bound = logger.child({ reqId: this.id });
        boundLoggers.set(this, bound);
      }
      return bound;
    },
  });
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = req.headers["x-request-id"];
    const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    req.id = id;
    res.setHeader("X-Request-Id", id);
    const started = performance.now();
    httpMetrics.inFlight.inc();
    // 'close' comes after 'finish', or alone when the client went away first.
    res.once("close", () => {
      httpMetrics.inFlight.dec();
      if (!res.writableFinished) return;
      const seconds = (performance.now() - started) / 1000;
      const route = routeOf(req);
      httpMetrics.duration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      if (res.statusCode >= 500) {
        logger.error(
          { reqId: id, method: req.method, url: req.originalUrl, route, status: res.statusCode, ms: seconds * 1000 },
          "request failed",
        );
      } else if (accessLog) {
        logger.info({ reqId: id, method: req.method, url: req.originalUrl, route, status: res.statusCode, ms: seconds * 1000 }, "request");
      }
    });
    next();
  };
}
