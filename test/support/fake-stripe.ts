import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";

/**
 * A test double of Stripe's HTTP API (not of our code), for the calls the
 * official SDK makes: form-encoded bodies (`metadata[k]=v`), Bearer key,
 * Stripe's error envelope. It keeps Stripe's idempotency semantics: a
 * repeated Idempotency-Key with the same parameters returns the object the
 * first request made (Idempotent-Replayed: true) and creates nothing; with
 * other parameters it is a 400 idempotency_error. It can be told to delay
 * or drop the answer to a request after processing it (Stripe made the
 * object; the caller never heard), and it sends Stripe-signed events
 * (the SDK's generateTestHeaderString) to a webhook URL.
 */
export type FakeIntent = {
  id: string;
  object: "payment_intent";
  amount: number;
  amount_received: number;
  currency: string;
  status: string;
  client_secret: string;
  metadata: Record<string, string>;
  created: number;
  livemode: false;
};
export type FakeRefund = {
  id: string;
  object: "refund";
  amount: number;
  currency: string;
  status: string;
  payment_intent: string;
  metadata: Record<string, string>;
  created: number;
};
type Fault = { method: string; path: RegExp; mode: "drop" | "delay"; ms?: number };
type Recorded = { method: string; path: string; idempotencyKey: string | undefined; body: Record<string, unknown>; replayed: boolean };

export type FakeStripe = {
  /** http://127.0.0.1:<port>, for STRIPE_API_BASE. */
  url: string;
  port: number;
  secretKey: string;
  intents: Map<string, FakeIntent>;
  refunds: Map<string, FakeRefund>;
  requests: Recorded[];
  /** How many objects requests with this Idempotency-Key created (Stripe: at most 1). */
  creations(idempotencyKey: string): number;
  /** The next matching request is processed, then its answer is delayed `ms` or never sent (the socket is destroyed). */
  faultNext(fault: Fault): void;
  /** The intent our payment id names in its metadata. */
  intentFor(paymentId: string): FakeIntent | undefined;
  /** A signed Stripe event POSTed to `url`; `timestamp` and `secret` as told (for stale or forged ones). */
  sendEvent(
    url: string,
    type: string,
    object: unknown,
    options: { secret: string; timestamp?: number; id?: string; signature?: string | null },
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
};

/** `a[b][c]=v` form fields → nested objects (what the SDK encodes). */
function unflatten(form: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of form) {
    const parts = name.split(/\[|\]\[|\]/).filter((p) => p !== "");
    let node = out;
    for (const part of parts.slice(0, -1)) {
      node[part] ??= {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = value;
  }
  return out;
}

const newId = (prefix: string) => `${prefix}_fake${randomBytes(10).toString("hex")}`;
const now = () => Math.floor(Date.now() / 1000);

export async function startFakeStripe(secretKey = "sk_test_fake_0123456789"): Promise<FakeStripe> {
  const intents = new Map<string, FakeIntent>();
  const refunds = new Map<string, FakeRefund>();
  const requests: Recorded[] = [];
  const byKey = new Map<string, { fingerprint: string; status: number; body: unknown }>();
  const created = new Map<string, number>();
  const faults: Fault[] = [];

  function error(status: number, type: string, message: string, code?: string) {
    return { status, body: { error: { type, message, ...(code ? { code } : {}) } } };
  }

  function handle(method: string, path: string, body: Record<string, unknown>, key: string | undefined): { status: number; body: unknown } {
    const count = () => {
      if (key) created.set(key, (created.get(key) ?? 0) + 1);
    };
    if (method === "POST" && path === "/v1/payment_intents") {
      const intent: FakeIntent = {
        id: newId("pi"),
        object: "payment_intent",
        amount: Number(body.amount),
        amount_received: 0,
        currency: String(body.currency),
        status: "requires_payment_method",
        client_secret: "",
        metadata: (body.metadata ?? {}) as Record<string, string>,
        created: now(),
        livemode: false,
      };
      intent.client_secret = `${intent.id}_secret_${randomBytes(8).toString("hex")}`;
      intents.set(intent.id, intent);
      count();
      return { status: 200, body: intent };
    }
    let m = /^\/v1\/payment_intents\/([^/]+)(\/cancel)?$/.exec(path);
    if (m) {
      const intent = intents.get(m[1]);
      if (!intent) return error(404, "invalid_request_error", `No such payment_intent: '${m[1]}'`, "resource_missing");
      if (method === "GET" && !m[2]) return { status: 200, body: intent };
      if (method === "POST" && m[2]) {
        if (intent.status === "canceled" || intent.status === "succeeded") {
          return error(
            400,
            "invalid_request_error",
            `This PaymentIntent's status is ${intent.status}, so it cannot be canceled.`,
            "payment_intent_unexpected_state",
          );
        }
        intent.status = "canceled";
        return { status: 200, body: intent };
      }
    }
    if (method === "POST" && path === "/v1/refunds") {
      const intent = intents.get(String(body.payment_intent));
      if (!intent) return error(404, "invalid_request_error", "No such payment_intent", "resource_missing");
      const refund: FakeRefund = {
        id: newId("re"),
        object: "refund",
        amount: body.amount === undefined ? intent.amount_received : Number(body.amount),
        currency: intent.currency,
        status: "pending",
        payment_intent: intent.id,
        metadata: (body.metadata ?? {}) as Record<string, string>,
        created: now(),
      };
      refunds.set(refund.id, refund);
      count();
      return { status: 200, body: refund };
    }
    m = /^\/v1\/refunds\/([^/]+)$/.exec(path);
    if (m && method === "GET") {
      const refund = refunds.get(m[1]);
      return refund ? { status: 200, body: refund } : error(404, "invalid_request_error", "No such refund", "resource_missing");
    }
    return error(404, "invalid_request_error", `Unrecognized request URL (${method}: ${path})`);
  }

  const server = http.createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (raw += c));
    req.on("end", () => {
      const method = req.method ?? "GET";
      const path = (req.url ?? "/").split("?")[0];
      const key = req.headers["idempotency-key"] as string | undefined;
      const body = unflatten(new URLSearchParams(raw));
      let answer: { status: number; body: unknown; replayed?: boolean };
      if (req.headers.authorization !== `Bearer ${secretKey}`) {
        answer = error(401, "invalid_request_error", "Invalid API Key provided");
      } else if (method === "POST" && key !== undefined) {
        const fingerprint = `${method} ${path} ${raw}`;
        const prior = byKey.get(key);
        if (prior && prior.fingerprint !== fingerprint) {
          answer = error(
            400,
            "idempotency_error",
            "Keys for idempotent requests can only be used with the same parameters they were first used with.",
          );
        } else if (prior) {
          answer = { ...prior, replayed: true };
        } else {
          answer = handle(method, path, body, key);
          if (answer.status < 500) byKey.set(key, { fingerprint, status: answer.status, body: answer.body });
        }
      } else {
        answer = handle(method, path, body, key);
      }
      requests.push({ method, path, idempotencyKey: key, body, replayed: answer.replayed === true });

      const faultAt = faults.findIndex((f) => f.method === method && f.path.test(path));
      const fault = faultAt >= 0 ? faults.splice(faultAt, 1)[0] : undefined;
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status, {
          "Content-Type": "application/json",
          "Request-Id": newId("req"),
          ...(key ? { "Idempotency-Key": key } : {}),
          ...(answer.replayed ? { "Idempotent-Replayed": "true" } : {}),
        });
        res.end(JSON.stringify(answer.body));
      };
      if (fault?.mode === "drop") req.socket.destroy();
      else if (fault?.mode === "delay") setTimeout(send, fault.ms ?? 1000);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    secretKey,
    intents,
    refunds,
    requests,
    creations: (key) => created.get(key) ?? 0,
    faultNext: (fault) => faults.push(fault),
    intentFor: (paymentId) => [...intents.values()].find((i) => i.metadata.orderlock_payment_id === paymentId),
    async sendEvent(url, type, object, options) {
      const payload = JSON.stringify({
        id: options.id ?? newId("evt"),
        object: "event",
        api_version: "2026-10-28.endive",
        created: now(),
        data: { object },
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        type,
      });
      const signature =
        options.signature === undefined
          ? Stripe.webhooks.generateTestHeaderString({ payload, secret: options.secret, timestamp: options.timestamp })
          : options.signature;
      const res = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...(signature !== null ? { "Stripe-Signature": signature } : {}) },
        body: payload,
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
