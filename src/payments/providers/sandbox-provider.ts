import { createHash, randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { type RetryPolicy, retrying } from "../../db/with-retry.js";
import { signWebhook } from "../webhook-signature.js";
import type { PaymentEvent, PaymentEventType, PaymentProvider, ProviderEvent } from "./payment-provider.js";

/**
 * The built-in `sandbox` provider: no money moves; on request it delivers the
 * signed webhook a real provider would send, to this service itself, over
 * real HTTP. It behaves like a real provider where that matters for
 * correctness: delivery is at least once (a non-2xx answer or a network
 * error is retried with full-jitter backoff, re-signed each time so a late
 * retry is not stale), and it can be asked to deliver the same event several
 * times at once. Pending deliveries live in memory: a restart loses them,
 * which a sandbox may do (a real provider would redeliver).
 */
export type SandboxProvider = PaymentProvider & {
  /** A fresh event id, as the sandbox spells them. */
  newEventId(): string;
  /** A new event for `payment`, with a fresh event id. */
  newEvent(payment: { id: string; amountCents: number }, type: PaymentEventType): PaymentEvent;
  /** Delivers `event` (1 + duplicates) times, concurrently, in the background; failures are logged. */
  deliverInBackground(event: ProviderEvent, duplicates: number): void;
  /** One at-least-once delivery: resolves with the attempts it took, rejects once it gives up. */
  deliver(event: ProviderEvent): Promise<{ attempts: number }>;
};

export type SandboxProviderOptions = {
  /** The service's own base URL (http://127.0.0.1:PORT), read at delivery time: the port may be known only after listen(). */
  selfBaseUrl: () => string;
  webhookSecret: string;
  logger: Logger;
  retry?: RetryPolicy;
  attemptTimeoutMs?: number;
};

export const sandboxDeliveryPolicy: RetryPolicy = { attempts: 8, baseDelayMs: 200, maxDelayMs: 10_000, maxTotalMs: 60_000 };

const newEventId = () => `evt_sbx_${randomBytes(12).toString("hex")}`;

export function createSandboxProvider(options: SandboxProviderOptions): SandboxProvider {
  const policy = options.retry ?? sandboxDeliveryPolicy;
  const timeoutMs = options.attemptTimeoutMs ?? 10_000;
  const log = options.logger.child({ component: "sandbox-provider" });

  async function attempt(body: string): Promise<number> {
    const res = await fetch(`${options.selfBaseUrl()}/v1/webhooks/payments`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Payment-Signature": signWebhook(options.webhookSecret, body) },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer(); // drain, so the connection can be reused
    return res.status;
  }

  async function deliver(event: ProviderEvent): Promise<{ attempts: number }> {
    const body = JSON.stringify(event);
    let attempts = 0;
    try {
      await retrying(
        async () => {
          attempts += 1;
          const status = await attempt(body);
          if (status < 200 || status >= 300) throw new Error(`HTTP ${status}`);
        },
        policy,
        () => true,
        ({ attempt: n, error }) =>
          log.debug({ eventId: event.id, attempt: n, failure: (error as Error).message }, "webhook delivery failed; retrying"),
      );
    } catch (err) {
      throw new Error(`webhook ${event.id} not delivered after ${attempts} attempts (last: ${(err as Error).message})`);
    }
    return { attempts };
  }

  return {
    name: "sandbox",
    // Derived from our id (96 bits of its hash), so a repeated call returns the same reference.
    createPayment: async (payment) => ({
      providerPaymentId: `sbx_${createHash("sha256").update(payment.paymentId).digest("hex").slice(0, 24)}`,
      clientSecret: null,
    }),
    // The sandbox keeps no state of its own: a payment it was told to cancel
    // is simply never succeeded by it, and a refund is settled by the admin
    // through POST /v1/sandbox/refunds/:id/succeed|fail.
    cancelPayment: async () => {},
    requestRefund: async (refund) => ({ providerRefundId: `sbx_re_${refund.refundId.replaceAll("-", "")}` }),
    newEventId,
    newEvent: (payment, type) => ({
      id: newEventId(),
      type,
      data: { paymentId: payment.id, amountCents: payment.amountCents },
    }),
    deliver,
    deliverInBackground(event, duplicates) {
      for (let i = 0; i <= duplicates; i++) {
        deliver(event).then(
          ({ attempts }) => log.debug({ eventId: event.id, type: event.type, attempts }, "webhook delivered"),
          (err: unknown) => log.warn({ err, eventId: event.id, type: event.type }, "webhook delivery gave up"),
        );
      }
    },
  };
}
