/**
 * SQLSTATE classification, in one place. TypeORM wraps driver errors in
 * QueryFailedError and copies the driver's fields onto it; connection errors
 * from pg arrive as plain Errors with a Node `code` (ECONNREFUSED) or a message.
 */
export type ErrorClass =
  | "serialization_failure" // 40001: retry the whole transaction
  | "deadlock" // 40P01: retry the whole transaction
  | "unique_violation" // 23505: already done; never retried
  | "check_violation" // 23514: not allowed; never retried
  | "foreign_key_violation" // 23503
  | "numeric_out_of_range" // 22003
  | "lock_timeout" // 55P03
  | "statement_timeout" // 57014
  | "read_only" // 25006: the database (or this session) is read-only, e.g. a demoted primary
  | "connection" // class 08, 57P01-57P03, socket errors, pool timeouts
  | "other";

export function sqlState(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  const code = e.driverError?.code ?? e.code;
  return typeof code === "string" ? code : undefined;
}

/** The constraint a statement violated (23xxx), or a PL/pgSQL RAISE named with `CONSTRAINT = ...`. */
export function violatedConstraint(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { constraint?: unknown; driverError?: { constraint?: unknown } };
  const name = e.driverError?.constraint ?? e.constraint;
  return typeof name === "string" ? name : undefined;
}

const CONNECTION_MESSAGES = [
  "Connection terminated",
  "connection timeout",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error",
  "Connection is not established",
  "the database system is starting up",
  "the database system is shutting down",
  "terminating connection",
  "Client was closed",
  "Query read timeout", // the pool's query_timeout: no answer from the server in time
];

export function classifyError(err: unknown): ErrorClass {
  const code = sqlState(err);
  switch (code) {
    case "40001":
      return "serialization_failure";
    case "40P01":
      return "deadlock";
    case "23505":
      return "unique_violation";
    case "23514":
      return "check_violation";
    case "23503":
      return "foreign_key_violation";
    case "22003":
      return "numeric_out_of_range";
    case "55P03":
      return "lock_timeout";
    case "57014":
      return "statement_timeout";
    case "25006":
      return "read_only";
  }
  if (code !== undefined) {
    if (code.startsWith("08") || code === "57P01" || code === "57P02" || code === "57P03" || code === "53300") {
      return "connection";
    }
    if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH"].includes(code)) {
      return "connection";
    }
  }
  const message = err instanceof Error ? err.message : "";
  if (CONNECTION_MESSAGES.some((m) => message.includes(m))) return "connection";
  return "other";
}

/** Transient conflicts worth retrying the whole transaction for. */
export function isRetryableSqlError(err: unknown): boolean {
  const c = classifyError(err);
  return c === "serialization_failure" || c === "deadlock";
}

/**
 * An error about the data of the statement (SQLSTATE class 22 data exception,
 * 23 integrity constraint, P0 raised by our PL/pgSQL): in a batch, one item
 * may have caused it. Timeouts, lock waits, connection loss are not: they
 * would hit every item alike.
 */
export function isDataError(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && /^(22|23|P0)/.test(code);
}

/**
 * Failures that happen before a call reaches the database: no connection
 * (refused, timed out, a full pool, a server that is starting up or refuses
 * connections), or a client already known dead. Nothing of such a call can
 * have committed.
 */
const NOT_SENT_MESSAGES = [
  "timeout exceeded when trying to connect",
  "Connection terminated due to connection timeout",
  "Client has encountered a connection error and is not queryable",
  "Connection is not established",
  "the database system is starting up",
  "the database system is shutting down",
  "the database system is in recovery mode",
];
const NOT_SENT_CODES = ["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "57P03", "53300", "08001", "08004"];

/**
 * True when the call may have been applied although no answer came back: the
 * client gave up waiting (the pool's query_timeout, "Query read timeout") or
 * the connection broke while the call was in the database (a crash, a reset,
 * a terminated backend). The server may have committed it; only a retry with
 * the same Idempotency-Key (or a read) tells. Conservative: a connection
 * failure not known to have happened before sending counts as unknown.
 */
export function isOutcomeUnknown(err: unknown): boolean {
  if (classifyError(err) !== "connection") return false;
  const code = sqlState(err);
  if (code !== undefined && NOT_SENT_CODES.includes(code)) return false;
  const message = err instanceof Error ? err.message : "";
  return !NOT_SENT_MESSAGES.some((m) => message.includes(m));
}

/** Lock and statement timeouts: the database rolled the call back; one item of a batch may have caused it. */
export function isTimeoutError(err: unknown): boolean {
  const c = classifyError(err);
  return c === "lock_timeout" || c === "statement_timeout";
}
