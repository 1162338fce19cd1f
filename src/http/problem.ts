import type { NextFunction, Request, Response } from "express";
import type { Logger } from "pino";
import { classifyError, isOutcomeUnknown } from "../db/postgres-errors.js";
import { AppError, OutcomeUnknownError, problemAnswer, ServiceUnavailableError } from "../errors.js";

function sendProblem(res: Response, err: AppError): void {
  const answer = problemAnswer(err);
  for (const [k, v] of Object.entries(answer.headers)) res.setHeader(k, v);
  res.status(answer.status).send(JSON.stringify(answer.body));
}

/** Unknown route → 404 problem. */
export function notFoundHandler(req: Request, res: Response): void {
  sendProblem(res, new AppError("not_found", 404, "Not found", `No route for ${req.method} ${req.path}.`));
}

/**
 * The one place errors become responses. Domain errors map by their code;
 * database unavailability, a read-only database, lock and statement timeouts
 * and exhausted retries map to 503 with Retry-After. A write whose call was
 * in the database when the connection broke or the client stopped waiting
 * may have committed: its 503 says `outcome: "unknown"` (src/errors.ts), and
 * only that kind of 503 may have had an effect. Anything else is a 500 whose
 * body says nothing internal, logged in full with the request id.
 */
export function problemHandler(logger: Logger) {
  // Express recognises error middleware by its four parameters.
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    if (err instanceof AppError) {
      sendProblem(res, err);
      return;
    }

    const kind = classifyError(err);
    if (isOutcomeUnknown(err) && req.method !== "GET" && req.method !== "HEAD") {
      (req.log ?? logger).warn({ err, kind }, "database stopped answering during a write: outcome unknown");
      sendProblem(res, new OutcomeUnknownError());
      return;
    }
    if (
      kind === "connection" ||
      kind === "read_only" ||
      kind === "lock_timeout" ||
      kind === "statement_timeout" ||
      kind === "serialization_failure" ||
      kind === "deadlock"
    ) {
      (req.log ?? logger).warn({ err, kind }, "database unavailable or contended");
      sendProblem(res, new ServiceUnavailableError());
      return;
    }
    if (err instanceof Error && err.name === "InternalConflictError") {
      sendProblem(res, new ServiceUnavailableError("The resource is under heavy contention; retry shortly."));
      return;
    }
    // body-parser's own client errors (aborted request and the like).
    const status = (err as { status?: number; expose?: boolean })?.status;
    if ((err as { expose?: boolean })?.expose && typeof status === "number" && status >= 400 && status < 500) {
      sendProblem(res, new AppError("malformed_json", 400, "Bad request", "The request body could not be read."));
      return;
    }
    (req.log ?? logger).error({ err }, "unhandled error");
    sendProblem(
      res,
      new AppError("internal", 500, "Internal error", `Something went wrong on our side. Request id: ${String(req.id ?? "")}.`),
    );
  };
}
