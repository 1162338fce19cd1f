import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopOrphan } from "../../src/db/embedded-postgres.js";
import { type FakeStripe, startFakeStripe } from "../support/fake-stripe.js";
import { eventually } from "../support/payment-factories.js";
import { newServiceConfig, removeDataDir, SERVICE_ADMIN_KEY, type ServiceConfig, startService } from "../support/service-process.js";

/**
 * SIGKILL of the real service (PAYMENT_PROVIDER=stripe, against the fake
 * Stripe API) at chosen points of creating a payment
 * (src/fault-injection.ts): right after the COMMIT of the payment, before
 * Stripe is called; and after Stripe created the PaymentIntent, before
 * our COMMIT of its id. After a restart the payment is completed (by the
 * sweeper, or by the client's retry of its Idempotency-Key, whichever comes
 * first) with the same Stripe idempotency key: one payment, one PaymentIntent,
 * and the retry's 201 carries its client secret.
 */
const admin = { Authorization: `Bearer ${SERVICE_ADMIN_KEY}`, "Content-Type": "application/json" };
const WEBHOOK = "whsec_crash_stripe_0123456789abcdef";
const KEY = "pay-doomed";
const dirs: ServiceConfig[] = [];
let stripe: FakeStripe;
beforeAll(async () => {
  stripe = await startFakeStripe();
});
afterAll(async () => {
  for (const d of dirs) {
    await stopOrphan(path.join(d.dataDir, "pg"), () => {});
    removeDataDir(d.dataDir);
  }
  await stripe.close();
});

async function scenario(point: string): Promise<void> {
  const stripeEnv = {
    PAYMENT_PROVIDER: "stripe",
    STRIPE_SECRET_KEY: stripe.secretKey,
    STRIPE_WEBHOOK_SECRET: WEBHOOK,
    STRIPE_API_BASE: stripe.url,
    STRIPE_TIMEOUT_MS: "500",
    PROVIDER_CALL_LEASE_SECONDS: "2",
    SWEEP_INTERVAL_MS: "200",
  };
  const cfg = await newServiceConfig({ ...stripeEnv, ORDERLOCK_CRASH_AT: point, ORDERLOCK_CRASH_TOKEN: KEY });
  dirs.push(cfg);
  let svc = await startService(cfg);
  const post = async (route: string, body: unknown, headers: Record<string, string>) => {
    const res = await fetch(`${svc.url}${route}`, { method: "POST", headers, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const sku = `CR-${point.replace(/\W/g, "")}`;
  await post("/v1/products", { sku, name: "x", priceCents: 700, onHand: 5 }, admin);
  const customer = (await post("/v1/customers", { name: "c" }, admin)).body as { apiKey: string };
  const auth = { Authorization: `Bearer ${customer.apiKey}`, "Content-Type": "application/json" };
  const order = (await post("/v1/orders", { lines: [{ sku, quantity: 2 }] }, { ...auth, "Idempotency-Key": "o1" })).body as { id: string };
  const intentsBefore = stripe.intents.size;

  const died = await fetch(`${svc.url}/v1/orders/${order.id}/payments`, {
    method: "POST",
    headers: { ...auth, "Idempotency-Key": KEY },
    body: "{}",
  }).catch((err: unknown) => err);
  expect(died).toBeInstanceOf(Error); // no answer: the process died
  await new Promise<void>((r) => (svc.child.exitCode !== null || svc.child.signalCode !== null ? r() : svc.child.once("exit", () => r())));
  const calledBeforeCrash = stripe.intents.size - intentsBefore;
  expect(calledBeforeCrash).toBe(point === "command:after-commit" ? 0 : 1);

  svc = await startService({ ...cfg, env: stripeEnv });
  // The client retries its key until it gets the answer (409 while a claim is held, 503 if Stripe failed).
  let answer = { status: 0, body: {} as Record<string, unknown> };
  await eventually(async () => {
    answer = await post(`/v1/orders/${order.id}/payments`, {}, { ...auth, "Idempotency-Key": KEY });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  }, 30_000);
  const paymentId = answer.body.id as string;
  const intent = stripe.intentFor(paymentId);
  expect(answer.body).toMatchObject({
    orderId: order.id,
    status: "pending",
    providerPaymentId: intent?.id,
    clientSecret: intent?.client_secret,
  });
  expect(stripe.intents.size - intentsBefore).toBe(1);
  expect(stripe.creations(paymentId)).toBe(1);
  expect(stripe.requests.filter((r) => r.path === "/v1/payment_intents").every((r) => r.idempotencyKey !== undefined)).toBe(true);

  const get = async (route: string) => (await (await fetch(`${svc.url}${route}`, { headers: auth })).json()) as Record<string, unknown>;
  expect(await get(`/v1/payments/${paymentId}`)).toMatchObject({ providerPaymentId: intent?.id, version: 1 });
  expect(await get(`/v1/orders/${order.id}`)).toMatchObject({ status: "pending_payment" });

  // And Stripe's success signal pays it.
  const paid = await stripe.sendEvent(
    `${svc.url}/v1/webhooks/stripe`,
    "payment_intent.succeeded",
    { ...intent, status: "succeeded", amount_received: intent?.amount },
    { secret: WEBHOOK },
  );
  expect(paid).toEqual({ status: 200, body: { received: true, outcome: "processed" } });
  expect(await get(`/v1/orders/${order.id}`)).toMatchObject({ status: "paid" });
  expect(await svc.stop()).toBe(0);
}

describe("SIGKILL while creating a Stripe payment", () => {
  it("when the service dies after committing the payment and before calling Stripe, then after restart one PaymentIntent, and the retry gets it", async () => {
    await scenario("command:after-commit");
  }, 180_000);

  it("when the service dies after Stripe created the PaymentIntent and before our COMMIT, then after restart the same PaymentIntent, never a second", async () => {
    await scenario("payment:after-provider-call");
  }, 180_000);
});
