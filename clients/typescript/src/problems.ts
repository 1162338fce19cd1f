import type { components } from "./generated/openapi.js";

type Schemas = components["schemas"];

/** Every problem body the API documents, one type per code (from the generated *Problem schemas). */
export type Problem = {
  [K in keyof Schemas]: K extends "Problem" ? never : K extends `${string}Problem` ? Schemas[K] : never;
}[keyof Schemas];

/** The stable `code` of every problem the API can answer. */
export type ProblemCode = Problem["code"];

/** The body of the problem with this code, e.g. ProblemOf<"out_of_stock">["unavailable"]. */
export type ProblemOf<C extends ProblemCode> = Extract<Problem, { code: C }>;

/**
 * A non-2xx answer from the service, thrown by the client's methods. `code`
 * is the contract's stable member; narrow with `is(code)` (or isProblem)
 * to reach the typed extensions, e.g. `unavailable` of out_of_stock.
 */
export class ProblemError<C extends ProblemCode = ProblemCode> extends Error {
  readonly status: number;
  readonly code: C;
  readonly problem: ProblemOf<C>;
  /** Response headers: ETag of a version_conflict, Retry-After of a 429/503, X-Request-Id. */
  readonly headers: Headers;

  constructor(problem: ProblemOf<C>, headers: Headers) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`);
    this.name = "ProblemError";
    this.status = problem.status;
    this.code = problem.code as C;
    this.problem = problem;
    this.headers = headers;
  }

  is<K extends ProblemCode>(code: K): this is ProblemError<K> {
    return (this.code as ProblemCode) === code;
  }

  /** The error for an answer that is not 2xx; a body that is no problem document becomes `internal`. */
  static from(response: Response, body: unknown): ProblemError {
    const looksLikeProblem =
      typeof body === "object" &&
      body !== null &&
      typeof (body as { code?: unknown }).code === "string" &&
      typeof (body as { status?: unknown }).status === "number";
    const problem = looksLikeProblem
      ? (body as Problem)
      : ({
          type: "about:blank",
          title: response.statusText || "Unexpected response",
          status: response.status,
          detail: `HTTP ${response.status} without a problem document.`,
          code: "internal",
        } as Problem);
    return new ProblemError(problem, response.headers);
  }
}

export function isProblem<K extends ProblemCode>(error: unknown, code: K): error is ProblemError<K> {
  return error instanceof ProblemError && error.is(code);
}
