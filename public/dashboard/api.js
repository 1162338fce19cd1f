// Every call the dashboard makes goes through here: same origin only, the
// admin key as a Bearer token (never in a URL), problem+json turned into errors.

const KEY_STORAGE = "orderlock.dashboard.adminKey";

/** The admin key lives in this tab's sessionStorage: gone when the tab closes. */
export const session = {
  key: () => sessionStorage.getItem(KEY_STORAGE),
  set: (key) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

/** An answer other than 2xx. `problem` is the RFC 9457 body (or a stand-in). */
export class ApiError extends Error {
  constructor(status, problem, headers) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code;
    this.problem = problem;
    this.headers = headers;
  }

  /** What to show a person: the problem's detail, plus field errors for validation failures. */
  get display() {
    const fields = Array.isArray(this.problem.errors)
      ? this.problem.errors.map((e) => `${e.path ? `${e.path}: ` : ""}${e.message}`).join("; ")
      : "";
    return fields ? `${this.message} ${fields}` : this.message;
  }
}

/** No answer at all: the service is down or unreachable. */
export class NetworkError extends Error {
  constructor(cause) {
    super("The service did not answer. Retrying.");
    this.cause = cause;
  }
}

/** Server time minus local time, from the Date header: ages and countdowns use the server's clock. */
let clockOffsetMs = 0;
export const serverNow = () => Date.now() + clockOffsetMs;

function noteServerDate(res) {
  const date = Date.parse(res.headers.get("Date") ?? "");
  if (Number.isNaN(date)) return;
  const offset = date + 500 - Date.now(); // the header has whole seconds: assume mid-second
  clockOffsetMs = Math.abs(offset) > 2000 ? offset : 0;
}

/** A short random Idempotency-Key (crypto.randomUUID needs a secure context; this does not). */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `dashboard-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * fetch() against this service. `as: "text"` for the Prometheus endpoint.
 * Resolves to { data, headers, status }; rejects with ApiError or NetworkError.
 */
export async function request(path, { method = "GET", body, headers = {}, key = session.key(), as = "json" } = {}) {
  const h = { Accept: as === "json" ? "application/json, application/problem+json" : "text/plain", ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    });
  } catch (err) {
    throw new NetworkError(err);
  }
  noteServerDate(res);
  const text = await res.text();
  let data = null;
  if (as === "text" && res.ok) data = text;
  else if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const problem =
      data && typeof data === "object" ? data : { title: res.statusText, detail: `HTTP ${res.status} ${res.statusText}`.trim() };
    throw new ApiError(res.status, problem, res.headers);
  }
  return { data, headers: res.headers, status: res.status };
}

export const get = (path, options) => request(path, options);
