import { randomUUID } from "node:crypto";

/**
 * A minimal JSON client for seeding and probing (not for load: that is
 * autocannon's job, in another process). Every POST carries an
 * Idempotency-Key, as a careful client of this API would send.
 */
// biome-ignore lint/suspicious/noExplicitAny: a probing client: each call site reads the JSON body by the shape it asked for
export type ApiResponse = { status: number; body: any; headers: Headers };

export type CallOptions = { key?: string; body?: unknown; idempotencyKey?: string | false; headers?: Record<string, string> };

export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async call(method: string, path: string, options: CallOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.key) headers.Authorization = `Bearer ${options.key}`;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (method === "POST" && options.idempotencyKey !== false)
      headers["Idempotency-Key"] = options.idempotencyKey ?? `bench-seed-${randomUUID()}`;
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(30000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON; keep the text for the error message
    }
    return { status: res.status, body, headers: res.headers };
  }

  /** Like call(), but anything other than `expected` is an error that names the request and the answer. */
  // biome-ignore lint/suspicious/noExplicitAny: as ApiResponse.body
  async expect(expected: number, method: string, path: string, options: CallOptions = {}): Promise<any> {
    const res = await this.call(method, path, options);
    if (res.status !== expected) {
      throw new Error(`${method} ${path} answered ${res.status} (expected ${expected}): ${JSON.stringify(res.body).slice(0, 500)}`);
    }
    return res.body;
  }
}

/** Runs `task` over `items` with at most `concurrency` in flight, keeping the order of results. */
export async function mapConcurrent<T, R>(items: T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i], i);
    }
  });
  await Promise.all(lanes);
  return results;
}
