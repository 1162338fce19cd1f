import { signWebhook } from "../../src/payments/webhook-signature.js";

/**
 * A Jepsen-style history: every operation's invocation and completion, as a
 * client saw them, then a check against a model of what must be true.
 *
 * An operation completes as
 * - ok: 2xx (201 an order; 200 processed or duplicate for a confirmation);
 * - fail: a definite answer that did nothing (4xx, or a 503 that does not say
 *   `outcome: "unknown"`: the contract says such a 5xx committed nothing);
 * - unknown: a 503 with `outcome: "unknown"`, no answer (reset, timeout), or
 *   any other 5xx (which the check then reports).
 */
export type OpKind = "order" | "confirm";
export type Completion = "ok" | "fail" | "unknown";

export type Op = {
  kind: OpKind;
  /** The Idempotency-Key of an order, the event id of a confirmation. */
  key: string;
  invokedAt: number;
  completedAt: number;
  status: number | "no-answer";
  code?: string;
  outcome?: string;
  retryAfter: boolean;
  replayed: boolean;
  /** The order id of a 201; the webhook outcome of a 200. */
  result?: string;
  completion: Completion;
};

export class History {
  readonly ops: Op[] = [];

  /** Runs one request and records it; never throws. */
  async record(kind: OpKind, key: string, send: (signal: AbortSignal) => Promise<Response>, clientTimeoutMs = 30_000): Promise<Op> {
    const invokedAt = Date.now();
    let op: Op;
    try {
      const res = await send(AbortSignal.timeout(clientTimeoutMs));
      const body = (await res.json().catch(() => ({}))) as { id?: string; code?: string; outcome?: string };
      const status = res.status;
      const outcomeUnknown = status >= 500 && (status !== 503 || body.outcome === "unknown");
      op = {
        kind,
        key,
        invokedAt,
        completedAt: Date.now(),
        status,
        code: body.code,
        outcome: body.outcome,
        retryAfter: res.headers.get("retry-after") !== null,
        replayed: res.headers.get("idempotent-replayed") === "true",
        result: kind === "order" ? body.id : body.outcome,
        completion: status < 300 ? "ok" : outcomeUnknown ? "unknown" : "fail",
      };
    } catch {
      op = {
        kind,
        key,
        invokedAt,
        completedAt: Date.now(),
        status: "no-answer",
        retryAfter: false,
        replayed: false,
        completion: "unknown",
      };
    }
    this.ops.push(op);
    return op;
  }

  byKey(): Map<string, Op[]> {
    const m = new Map<string, Op[]>();
    for (const op of this.ops) {
      const list = m.get(op.key) ?? [];
      list.push(op);
      m.set(op.key, list);
    }
    return m;
  }

  /** Keys whose latest operation is not ok: what a client must still retry. */
  unresolved(): string[] {
    return [...this.byKey()].filter(([, ops]) => ops.at(-1)!.completion !== "ok").map(([k]) => k);
  }

  /** Per kind: how many completed ok, fail, unknown; and statuses seen. */
  summary(): string {
    const c = { ok: 0, fail: 0, unknown: 0 };
    const statuses = new Map<string, number>();
    for (const op of this.ops) {
      c[op.completion] += 1;
      const s = `${op.status}${op.outcome === "unknown" ? "?" : ""}`;
      statuses.set(s, (statuses.get(s) ?? 0) + 1);
    }
    return `${this.ops.length} ops: ok ${c.ok}, fail ${c.fail}, unknown ${c.unknown}; ${[...statuses].map(([s, n]) => `${s}×${n}`).join(" ")}`;
  }
}

export type OrderLine = { sku: string; quantity: number };

/** POST /v1/orders with a key, recorded. */
export function placeKeyedOrder(h: History, base: string, apiKey: string, key: string, lines: OrderLine[]) {
  return h.record("order", key, (signal) =>
    fetch(`${base}/v1/orders`, {
      method: "POST",
      headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json", "Idempotency-Key": key },
      body: JSON.stringify({ lines }),
      signal,
    }),
  );
}

/** The sandbox provider's signed payment.succeeded webhook, recorded under its event id. */
export function confirmPayment(h: History, base: string, secret: string, eventId: string, payment: { id: string; amountCents: number }) {
  const raw = JSON.stringify({ id: eventId, type: "payment.succeeded", data: { paymentId: payment.id, amountCents: payment.amountCents } });
  return h.record("confirm", eventId, (signal) =>
    fetch(`${base}/v1/webhooks/payments`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Payment-Signature": signWebhook(secret, raw) },
      body: raw,
      signal,
    }),
  );
}

/** What the database holds once every key is resolved, read on a direct connection. */
export type FinalState = {
  /** Every order on the load's SKUs: id → status and lines. */
  orders: Map<string, { status: string; lines: OrderLine[] }>;
  /** Reserved units per SKU of the load. */
  reserved: Map<string, number>;
  /** Payments confirmed by the load: id → status. */
  payments: Map<string, string>;
  /** Increase of the purchase counters (purchases, revenueCents) over the load. */
  counted: { purchases: number; revenueCents: number };
};

export type Model = {
  /** The lines each order key asked for. */
  orderLines: Map<string, OrderLine[]>;
  /** Event id → the payment it confirms. */
  confirmations: Map<string, { id: string; amountCents: number }>;
  /** Longest a request may take: API.md's bounded waits. */
  boundMs: number;
};

/**
 * The model's checks; returns every violation found (none: the history is
 * consistent).
 * 1. No 500 ever; every 503 carries Retry-After; no request took longer than the bound.
 * 2. An Idempotency-Key produced at most one effect: all its 201s name one order.
 * 3. A 5xx without `outcome: "unknown"` committed nothing: a later replay of
 *    its key is explained only by an earlier ok or unknown attempt.
 * 4. No acknowledged order or payment is lost; once every key is resolved,
 *    the orders are exactly the keys' orders, reserved stock equals the open
 *    orders' lines, succeeded payments are exactly the confirmed ones, and
 *    the counters moved by exactly those payments.
 */
export function checkHistory(h: History, model: Model, state: FinalState): string[] {
  const v: string[] = [];
  for (const op of h.ops) {
    const tag = `${op.kind} ${op.key} sent ${new Date(op.invokedAt).toISOString().slice(11, 23)}`;
    if (typeof op.status === "number" && op.status >= 500 && op.status !== 503) v.push(`${tag}: ${op.status}`);
    if (op.status === 503 && !op.retryAfter) v.push(`${tag}: 503 without Retry-After`);
    if (op.status === 503 && op.code !== "service_unavailable") v.push(`${tag}: 503 with code ${op.code}`);
    if (op.status === "no-answer") v.push(`${tag}: no answer within the client's timeout`);
    if (op.completedAt - op.invokedAt > model.boundMs) v.push(`${tag}: took ${op.completedAt - op.invokedAt} ms > ${model.boundMs}`);
  }
  const keyOrder = new Map<string, string>();
  for (const [key, ops] of h.byKey()) {
    const last = ops.at(-1)!;
    if (last.completion !== "ok") v.push(`${key}: unresolved (last ${last.status})`);
    const results = new Set(ops.filter((o) => o.completion === "ok" && o.kind === "order").map((o) => o.result));
    if (results.size > 1) v.push(`${key}: one key, ${results.size} orders (${[...results].join(", ")})`);
    const [id] = results;
    if (id) keyOrder.set(key, id);
    ops.forEach((op, i) => {
      const explained = ops.slice(0, i).some((o) => o.completion !== "fail");
      if (op.kind === "order" && op.completion === "ok" && op.replayed && !explained)
        v.push(`${key}: replayed, but every earlier attempt said nothing was done`);
      if (op.kind === "confirm" && op.result === "duplicate" && !explained) {
        v.push(`${key}: duplicate, but every earlier attempt said nothing was done`);
      }
    });
  }

  // Orders: exactly one per key, none lost, none extra, stock exact.
  const expectedReserved = new Map<string, number>();
  for (const [key, id] of keyOrder) {
    const row = state.orders.get(id);
    if (!row) {
      v.push(`${key}: acknowledged order ${id} is missing`);
      continue;
    }
    if (row.status === "reserved" || row.status === "pending_payment") {
      for (const l of model.orderLines.get(key) ?? []) expectedReserved.set(l.sku, (expectedReserved.get(l.sku) ?? 0) + l.quantity);
    }
  }
  const acknowledged = new Set(keyOrder.values());
  for (const id of state.orders.keys()) if (!acknowledged.has(id)) v.push(`order ${id} exists but no key resolved to it`);
  for (const [sku, units] of state.reserved) {
    if ((expectedReserved.get(sku) ?? 0) !== units) v.push(`${sku}: reserved ${units}, open orders hold ${expectedReserved.get(sku) ?? 0}`);
  }

  // Payments: every confirmation acknowledged is a succeeded payment; counters match exactly.
  const confirmed = new Set<string>();
  for (const [eventId, payment] of model.confirmations) {
    const ok = (h.byKey().get(eventId) ?? []).some((o) => o.completion === "ok");
    if (ok) confirmed.add(payment.id);
  }
  let revenue = 0;
  for (const [id, status] of state.payments) {
    const amount = [...model.confirmations.values()].find((p) => p.id === id)?.amountCents ?? 0;
    if (confirmed.has(id) && status !== "succeeded") v.push(`payment ${id}: confirmed but ${status}`);
    if (!confirmed.has(id) && status === "succeeded") v.push(`payment ${id}: succeeded without an acknowledged confirmation`);
    if (status === "succeeded") revenue += amount;
  }
  const succeeded = [...state.payments.values()].filter((s) => s === "succeeded").length;
  if (state.counted.purchases !== succeeded)
    v.push(`purchase counter moved by ${state.counted.purchases}, ${succeeded} payments succeeded`);
  if (state.counted.revenueCents !== revenue)
    v.push(`revenue counter moved by ${state.counted.revenueCents}, succeeded payments total ${revenue}`);
  return v;
}

/**
 * What a careful client does after a fault: retries every key whose outcome
 * is not yet ok, with the same key, until each is ok (the service is back;
 * a definite refusal other than 503/409-in-use would be a model violation the
 * check reports as unresolved).
 */
export async function resolveAll(h: History, retry: (kind: OpKind, key: string) => Promise<Op>, deadlineMs = 30_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const open = h.unresolved();
    if (open.length === 0 || Date.now() > until) return;
    const kinds = new Map(h.ops.map((o) => [o.key, o.kind]));
    for (let i = 0; i < open.length; i += 16) {
      await Promise.all(open.slice(i, i + 16).map((k) => retry(kinds.get(k)!, k)));
    }
    if (h.unresolved().length > 0) await new Promise((r) => setTimeout(r, 250));
  }
}
