import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import type { ResolvedAddress } from "./url-policy.js";

export type PostResult = { httpStatus: number | null; error: string | null; durationMs: number };

/**
 * One POST of a webhook, with node's own HTTP client: a fresh connection
 * (no pooled socket reused across a DNS change) to the address the SSRF
 * check approved (the custom lookup never asks DNS again; TLS still verifies
 * the certificate against the URL's host name), redirects never followed
 * (node's client does not follow them; a 3xx is a failure), and the whole
 * exchange bounded by `timeoutMs`. Never throws.
 */
export function postWebhook(
  url: URL,
  address: ResolvedAddress,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<PostResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (e: null, a: ResolvedAddress[]) => void)(null, [address]);
    else callback(null, address.address, address.family);
  };
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: Omit<PostResult, "durationMs">) => {
      if (settled) return;
      settled = true;
      resolve({ ...r, durationMs: elapsed() });
    };
    const client = url.protocol === "https:" ? https : http;
    const req = client.request(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: "POST",
        agent: false,
        lookup,
        signal: AbortSignal.timeout(timeoutMs),
        headers: { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(body)) },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        res.resume(); // the answer's body is not needed; drain it
        res.once("error", () => undefined);
        done({
          httpStatus: status,
          error: status >= 200 && status < 300 ? null : status >= 300 && status < 400 ? "redirect not followed" : `HTTP ${status}`,
        });
      },
    );
    req.once("error", (err: NodeJS.ErrnoException) => {
      const timedOut = err.name === "AbortError" || err.name === "TimeoutError";
      done({
        httpStatus: null,
        error: timedOut ? `no answer within ${timeoutMs} ms` : `${err.code ?? err.name}: ${err.message}`.slice(0, 300),
      });
    });
    req.end(body);
  });
}
