import { createHmac, randomUUID } from "node:crypto";
import type { ApiClient, ApiResponse, CallOptions } from "./api-client.js";
import type { Customer } from "./seed.js";

/**
 * The soak's whole-life orders, driven over HTTP beside the order load, as
 * a shop and its payment provider would: a few lanes, each running one
 * order's life after another until stopped.
 *
 *   place (1–2 lines of spread SKUs, 1–3 units each)
 *   ├─ 15 %: cancel                                      order.cancelled
 *   └─ create a payment, then the provider's signed webhook:
 *      ├─ 5 %: payment.failed, then cancel               payment.failed, order.cancelled
 *      └─ payment.succeeded                              order.paid
 *         └─ 40 %: a refund (admin POST), then the provider's signed
 *            refund.succeeded (90 %) or refund.failed (10 %):
 *            ├─ half: the whole total, every line restocked   refund.succeeded, order.refunded
 *            └─ half: a third, no restock; half of those
 *               then refund the rest                          refund.succeeded (+ order.refunded)
 *
 * 5 % of the provider's signals are sent twice (providers deliver at least
 * once); the second must answer `duplicate`. Like a careful client, a step
 * answered 5xx, 429 or not at all is sent again with the same
 * Idempotency-Key (webhooks: the same event), up to five times. Any other
 * answer than the expected one is a wrong answer: counted by step, status and
 * problem code, and that order's life ends there.
 */
export type LifecycleTally = {
  lifecycles: number;
  requests: number;
  /** Sends of a step again after a 5xx, 429 or network error. */
  resent: number;
  placed: number;
  cancelled: number;
  paid: number;
  paymentsFailed: number;
  refundsSucceeded: number;
  refundsFailed: number;
  ordersRefunded: number;
  duplicateSignals: number;
  /** "<step> <status> <code or outcome>" → count. */
  wrong: Record<string, number>;
};

export const LIFECYCLE_LANES = 4;

class WrongAnswer extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const chance = (p: number) => Math.random() < p;
const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)];

/** The provider's signature of the generic webhook: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>. */
function providerSignature(secret: string, body: string): string {
  const t = Math.floor(Date.now() / 1000);
  return `t=${t},v1=${createHmac("sha256", secret).update(`${t}.${body}`).digest("hex")}`;
}

export function startLifecycles(options: {
  api: ApiClient;
  adminKey: string;
  webhookSecret: string;
  customers: Customer[];
  skus: string[];
  lanes?: number;
}) {
  const { api, adminKey, webhookSecret, customers, skus } = options;
  const tally: LifecycleTally = {
    lifecycles: 0,
    requests: 0,
    resent: 0,
    placed: 0,
    cancelled: 0,
    paid: 0,
    paymentsFailed: 0,
    refundsSucceeded: 0,
    refundsFailed: 0,
    ordersRefunded: 0,
    duplicateSignals: 0,
    wrong: {},
  };
  let stopped = false;

  /**
   * One step: sent until it is answered other than 5xx/429, at most five
   * times; `request` builds each send (the same Idempotency-Key every time;
   * a signal is signed anew, as a provider does on a retry).
   */
  async function step(name: string, expected: number, method: string, path: string, request: () => CallOptions): Promise<ApiResponse> {
    let res: ApiResponse | undefined;
    let failure = "no answer";
    for (let attempt = 1; attempt <= 5; attempt++) {
      if (attempt > 1) {
        tally.resent++;
        await sleep(100 * 2 ** attempt);
      }
      tally.requests++;
      try {
        res = await api.call(method, path, request());
      } catch (err) {
        failure = (err as Error).name;
        continue;
      }
      if (res.status < 500 && res.status !== 429) break;
      failure = String(res.status);
    }
    if (!res || res.status !== expected) {
      const label = res ? `${name} ${res.status} ${res.body?.code ?? "-"}` : `${name} ${failure}`;
      tally.wrong[label] = (tally.wrong[label] ?? 0) + 1;
      throw new WrongAnswer(label);
    }
    return res;
  }

  /** A keyed POST: one Idempotency-Key for all its sends. */
  function post(name: string, expected: number, path: string, key: string, body: unknown): Promise<ApiResponse> {
    const idempotencyKey = `soak-${randomUUID()}`;
    return step(name, expected, "POST", path, () => ({ key, body, idempotencyKey }));
  }

  /** The provider's signal, processed once; sometimes sent a second time, which must be a duplicate. */
  async function signal(type: string, data: Record<string, unknown>): Promise<void> {
    const event = { id: `evt_soak_${randomUUID().replaceAll("-", "")}`, type, data };
    // ApiClient sends JSON.stringify(body): the very bytes signed here.
    const raw = JSON.stringify(event);
    const send = async (outcome: string) => {
      const res = await step(type, 200, "POST", "/v1/webhooks/payments", () => ({
        idempotencyKey: false,
        headers: { "Payment-Signature": providerSignature(webhookSecret, raw) },
        body: event,
      }));
      if (res.body?.outcome !== outcome) {
        const label = `${type} 200 ${res.body?.outcome ?? "-"} (expected ${outcome})`;
        tally.wrong[label] = (tally.wrong[label] ?? 0) + 1;
        throw new WrongAnswer(label);
      }
    };
    await send("processed");
    if (chance(0.05)) {
      await send("duplicate");
      tally.duplicateSignals++;
    }
  }

  async function refund(payment: { id: string }, body: Record<string, unknown>): Promise<boolean> {
    const r = await post("refund", 201, `/v1/payments/${payment.id}/refunds`, adminKey, body);
    const succeeded = chance(0.9);
    await signal(succeeded ? "refund.succeeded" : "refund.failed", { refundId: r.body.id, amountCents: r.body.amountCents });
    if (succeeded) tally.refundsSucceeded++;
    else tally.refundsFailed++;
    return succeeded;
  }

  async function oneLife(): Promise<void> {
    const customer = pick(customers);
    const first = pick(skus);
    const second = pick(skus);
    const lines = [{ sku: first, quantity: 1 + Math.floor(Math.random() * 3) }];
    if (chance(0.5) && second !== first) lines.push({ sku: second, quantity: 1 + Math.floor(Math.random() * 3) });
    const order = (await post("place", 201, "/v1/orders", customer.apiKey, { lines })).body;
    tally.placed++;
    const cancel = async () => {
      await post("cancel", 200, `/v1/orders/${order.id}/cancel`, customer.apiKey, {});
      tally.cancelled++;
    };
    if (chance(0.15)) return cancel();

    const payment = (await post("pay", 201, `/v1/orders/${order.id}/payments`, customer.apiKey, {})).body;
    const data = { paymentId: payment.id, amountCents: payment.amountCents };
    if (chance(0.05)) {
      await signal("payment.failed", data);
      tally.paymentsFailed++;
      return cancel();
    }
    await signal("payment.succeeded", data);
    tally.paid++;
    if (!chance(0.4)) return;

    const total = Number(order.totalCents);
    if (chance(0.5)) {
      const restock = lines.map((l) => ({ ...l, restock: true }));
      if (await refund(payment, { reason: "soak: returned", lines: restock })) tally.ordersRefunded++;
      return;
    }
    const third = Math.max(1, Math.floor(total / 3));
    if ((await refund(payment, { reason: "soak: partial", amountCents: third })) && third < total && chance(0.5)) {
      if (await refund(payment, { reason: "soak: the rest" })) tally.ordersRefunded++;
    }
  }

  let crashed: unknown;
  const lanes = Array.from({ length: options.lanes ?? LIFECYCLE_LANES }, async () => {
    while (!stopped) {
      tally.lifecycles++;
      try {
        await oneLife();
      } catch (err) {
        if (!(err instanceof WrongAnswer)) throw err;
        // Counted in tally.wrong; a short pause so that a broken path does not spin.
        await sleep(200);
      }
    }
  }).map((lane) =>
    // A bug of the driver itself stops every lane and surfaces at stop().
    lane.catch((err: unknown) => {
      crashed ??= err;
      stopped = true;
    }),
  );

  return {
    tally,
    /** Lets every lane finish the order it is on; resolves with the final tally. */
    async stop(): Promise<LifecycleTally> {
      stopped = true;
      await Promise.all(lanes);
      if (crashed) throw crashed;
      return tally;
    },
  };
}
