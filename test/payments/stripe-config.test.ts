import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";

/** PAYMENT_PROVIDER=stripe without its keys stops the process at start, naming what is missing. */
describe("Stripe configuration", () => {
  it("when stripe is selected without keys, then start-up fails with a message naming them", () => {
    expect(() => loadConfig({ PAYMENT_PROVIDER: "stripe" })).toThrow(/STRIPE_SECRET_KEY.*STRIPE_WEBHOOK_SECRET/);
    expect(() => loadConfig({ PAYMENT_PROVIDER: "stripe", STRIPE_SECRET_KEY: "sk_test_x" })).toThrow(/STRIPE_WEBHOOK_SECRET/);
    expect(() => loadConfig({ PAYMENT_PROVIDER: "stripe", STRIPE_WEBHOOK_SECRET: " , ", STRIPE_SECRET_KEY: "sk_test_x" })).toThrow(
      /STRIPE_WEBHOOK_SECRET/,
    );
  });

  it("when stripe is configured, then secrets are split for rotation and STRIPE_API_BASE becomes the SDK's host, port and protocol", () => {
    const config = loadConfig({
      PAYMENT_PROVIDER: "stripe",
      STRIPE_SECRET_KEY: "sk_test_x",
      STRIPE_WEBHOOK_SECRET: "whsec_new, whsec_old",
      STRIPE_API_BASE: "http://127.0.0.1:12111",
    });
    expect(config.paymentProvider).toBe("stripe");
    expect(config.stripe).toEqual({
      secretKey: "sk_test_x",
      webhookSecrets: ["whsec_new", "whsec_old"],
      apiBase: { protocol: "http", host: "127.0.0.1", port: 12111 },
      timeoutMs: 10000,
    });
    expect(config.providerCallLeaseSeconds).toBe(60);
  });

  it("when the default sandbox is used, then no Stripe key is needed; a bad STRIPE_API_BASE or a lease shorter than the SDK's attempts is refused", () => {
    expect(loadConfig({}).paymentProvider).toBe("sandbox");
    expect(loadConfig({}).stripe).toBeUndefined();
    expect(() => loadConfig({ STRIPE_API_BASE: "ftp://x" })).toThrow(/STRIPE_API_BASE/);
    expect(() =>
      loadConfig({ PAYMENT_PROVIDER: "stripe", STRIPE_SECRET_KEY: "k", STRIPE_WEBHOOK_SECRET: "w", PROVIDER_CALL_LEASE_SECONDS: "10" }),
    ).toThrow(/PROVIDER_CALL_LEASE_SECONDS/);
  });
});
