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
  | "connection" // class 08, 57P01-57P03, socket errors, pool timeouts
  | "other";

export function sqlState(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; driverError?: { code?: unknown } };
  const code = e.driverError?.code ?? e.code;
  return typeof code === "string" ? code : undefined;
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
