import fs from "node:fs";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCustomer, createProduct, uniqueKey, uniqueSku } from "../support/factories.js";
import { createPayment, deliverExpecting, type OrderBody, placeOrder, successEvent, utcDay } from "../support/payment-factories.js";
import { ADMIN_KEY, startTestApp, type TestApp } from "../support/test-app.js";

/**
 * The operations dashboard in a real browser: Debian's Chromium, headless,
 * driven by playwright-core against the real app on real PostgreSQL. One
 * page is carried through the file: sign in, read the panels, restock, lose
 * a stale edit and retry it, and pause while hidden.
 *
 * Without /usr/bin/chromium the file is skipped on a developer machine and
 * FAILS under CI (.ci/install-debian-packages.sh installs it there).
 */
const CHROMIUM = "/usr/bin/chromium";
const hasChromium = fs.existsSync(CHROMIUM);
const inCi = Boolean(process.env.CI) && !["0", "false"].includes(String(process.env.CI).toLowerCase());
const SCREENSHOTS = path.resolve("test-results");
const WAIT = { timeout: 30_000, interval: 100 };

type Product = { sku: string; name: string; priceCents: number; onHand: number; reserved: number; available: number; version: number };

let t: TestApp;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const seeded = { a: "", b: "", c: "", day: "", orders: [] as OrderBody[], revenueCents: 0 };
const requests: { url: string; method: string; headers: Record<string, string> }[] = [];
const consoleProblems: string[] = [];

const api = {
  product: async (sku: string) => {
    const res = await t.http().get(`/v1/products/${sku}`).set(t.admin);
    expect(res.status).toBe(200);
    return res.body as Product;
  },
  metricsText: async () => (await t.http().get("/metrics")).text,
};

/** The sum of one series' samples in Prometheus text (labels matched as a substring of the label set). */
function metricSum(text: string, name: string, labels = ""): number {
  return text
    .split("\n")
    .filter((l) => !l.startsWith("#") && (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

const text = (l: Locator) => l.textContent({ timeout: WAIT.timeout }).then((s) => (s ?? "").trim());
const row = (table: "products" | "orders", key: string) => page.locator(`#${table}-table tbody tr[data-key="${key}"]`);
const cell = (table: "products" | "orders", key: string, cls: string) => row(table, key).locator(`.${cls}`);
const apiRequests = () => requests.filter((r) => new URL(r.url).pathname.startsWith("/v1/"));

async function setHidden(hidden: boolean) {
  await page.evaluate(`(() => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => ${hidden ? '"hidden"' : '"visible"'} });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => ${hidden} });
    document.dispatchEvent(new Event("visibilitychange"));
  })()`);
}

describe.skipIf(!hasChromium && !inCi)("GET /dashboard in Chromium", { timeout: 120_000 }, () => {
  beforeAll(async () => {
    if (!hasChromium)
      throw new Error(`${CHROMIUM} is missing: run .ci/install-debian-packages.sh (CI must run the browser test, not skip it)`);
    t = await startTestApp();

    // Seed through the API: three products (one low on stock), two customers,
    // two paid orders (the chart's numbers), two reserved ones (holds).
    const a = await createProduct(t, { sku: uniqueSku("DASH-A"), name: "Blue widget", priceCents: 1250, onHand: 100 });
    const b = await createProduct(t, { sku: uniqueSku("DASH-B"), name: "Red gadget", priceCents: 999, onHand: 4 });
    const c = await createProduct(t, { sku: uniqueSku("DASH-C"), name: "Green gizmo", priceCents: 4500, onHand: 50 });
    Object.assign(seeded, { a: a.sku, b: b.sku, c: c.sku });
    const alice = await createCustomer(t, "Alice");
    const bob = await createCustomer(t, "Bob");
    const paid1 = await placeOrder(t, alice, [
      { sku: a.sku, quantity: 2 },
      { sku: c.sku, quantity: 1 },
    ]);
    const paid2 = await placeOrder(t, bob, [{ sku: a.sku, quantity: 1 }]);
    seeded.day = utcDay();
    const firstEvent = successEvent(await createPayment(t, alice, paid1.id));
    await deliverExpecting(t, firstEvent, "processed");
    await deliverExpecting(t, successEvent(await createPayment(t, bob, paid2.id)), "processed");
    await deliverExpecting(t, firstEvent, "duplicate"); // the provider redelivers: one webhook duplicate
    seeded.revenueCents = paid1.totalCents + paid2.totalCents;
    const held1 = await placeOrder(t, bob, [{ sku: b.sku, quantity: 1 }]);
    const key = uniqueKey();
    const held2 = (
      await t
        .http()
        .post("/v1/orders")
        .set(alice.auth)
        .set("Idempotency-Key", key)
        .send({ lines: [{ sku: c.sku, quantity: 3 }] })
    ).body as OrderBody;
    const replay = await t
      .http()
      .post("/v1/orders")
      .set(alice.auth)
      .set("Idempotency-Key", key)
      .send({ lines: [{ sku: c.sku, quantity: 3 }] });
    expect(replay.headers["idempotent-replayed"]).toBe("true"); // one idempotent replay
    seeded.orders = [paid1, paid2, held1, held2];
    // One stale edit through the API: one client version conflict.
    const v = (await api.product(c.sku)).version;
    expect(
      (await t.http().patch(`/v1/products/${c.sku}`).set(t.admin).set("If-Match", `"${v}"`).send({ name: "Green gizmo" })).status,
    ).toBe(200);
    expect((await t.http().patch(`/v1/products/${c.sku}`).set(t.admin).set("If-Match", `"${v}"`).send({ name: "Lost" })).status).toBe(409);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-US", timezoneId: "UTC" });
    await context.clock.install(); // real time, flowing; fast-forwarded only to prove polling pauses
    page = await context.newPage();
    page.setDefaultTimeout(WAIT.timeout);
    page.on("request", (r) => requests.push({ url: r.url(), method: r.method(), headers: r.headers() }));
    page.on("pageerror", (err) => consoleProblems.push(`pageerror: ${err.message}`));
    page.on("console", (m) => {
      // Chromium logs every non-2xx fetch as a console error; the page expects those (401, 409, 422...).
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) consoleProblems.push(m.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it("when the page loads, then it is static, strict-CSP and asks for the key; a wrong or a customer key is refused with a clear message", async () => {
    const res = await page.goto(`${t.url}/dashboard`);
    expect(res?.status()).toBe(200);
    const headers = res!.headers();
    expect(headers["content-type"]).toMatch(/^text\/html/);
    expect(headers["content-security-policy"]).toContain("default-src 'self'");
    expect(headers["content-security-policy"]).toContain("script-src 'self'");
    expect(headers["content-security-policy"]).not.toContain("unsafe-inline");
    expect(headers["cache-control"]).toBe("no-cache");
    await page.locator("#login-view").waitFor({ state: "visible" });
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, "dashboard-login.png") });

    await page.locator("#admin-key").fill("ol_not_a_key_at_all_0000");
    await page.locator("#login-submit").click();
    await expect.poll(() => text(page.locator("#login-error")), WAIT).toMatch(/not accepted/);
    expect(await page.locator("#dashboard-view").isVisible()).toBe(false);

    const customer = await createCustomer(t, "Curious customer");
    await page.locator("#admin-key").fill(customer.apiKey);
    await page.locator("#login-submit").click();
    await expect.poll(() => text(page.locator("#login-error")), WAIT).toMatch(/customer key/);
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
  });

  it("when the admin key is entered, then the chart, reconciliation, tables and collision counters show the seeded numbers", async () => {
    await page.locator("#admin-key").fill(ADMIN_KEY);
    await page.locator("#login-submit").click();
    await page.locator("#dashboard-view").waitFor({ state: "visible" });
    expect(await page.evaluate(`sessionStorage.getItem("orderlock.dashboard.adminKey")`)).toBe(ADMIN_KEY);
    expect(page.url()).toBe(`${t.url}/dashboard`);
    await expect.poll(() => text(page.locator("#live-status")), WAIT).toMatch(/^Live · updated \d\d:\d\d:\d\d UTC$/);

    // Purchases: 2 purchases, their revenue, 2 customers, on the day they were confirmed.
    await expect.poll(() => text(page.locator("#kpi-purchases")), WAIT).toBe("2");
    const revenue = `$${(seeded.revenueCents / 100).toFixed(2)}`;
    expect(await text(page.locator("#kpi-revenue"))).toBe(revenue);
    expect(await text(page.locator("#kpi-customers"))).toBe("2");
    const bars = (chart: string) => page.locator(`#${chart} .bar`);
    const bar = (chart: string, day: string) => page.locator(`#${chart} .bar[data-day="${day}"]`);
    expect(await bars("chart-purchases").count()).toBe(30);
    expect(await bar("chart-purchases", seeded.day).getAttribute("data-value")).toBe("2");
    expect(await bar("chart-revenue", seeded.day).getAttribute("data-value")).toBe(String(seeded.revenueCents));
    expect(await bar("chart-customers", seeded.day).getAttribute("data-value")).toBe("2");
    expect(await page.locator("#chart-purchases .bar .fill").count()).toBe(1); // every other day is empty
    expect(await page.locator(`#chart-purchases .bar[data-day="${seeded.day}"] title`).textContent()).toBe(`${seeded.day}: 2`);
    await page.getByRole("button", { name: "7 days" }).click();
    await expect.poll(() => bars("chart-purchases").count(), WAIT).toBe(7);
    await page.getByRole("button", { name: "90 days" }).click();
    await expect.poll(() => bars("chart-revenue").count(), WAIT).toBe(90);
    expect(await text(page.locator("#kpi-revenue"))).toBe(revenue);
    await page.getByRole("button", { name: "30 days" }).click();
    await expect.poll(() => bars("chart-customers").count(), WAIT).toBe(30);

    // Reconciliation: counters agree with the succeeded payments.
    await expect.poll(() => text(page.locator("#recon-status")), WAIT).toMatch(/In balance/);
    expect(await text(page.locator("#recon-counter-purchases"))).toBe("2");
    expect(await text(page.locator("#recon-event-purchases"))).toBe("2");
    expect(await text(page.locator("#recon-drift-purchases"))).toBe("0");
    expect(await text(page.locator("#recon-event-revenue"))).toBe(revenue);

    // Products: every number as the API has it; B (3 of 4 available) is low on stock, the others are not.
    for (const sku of [seeded.a, seeded.b, seeded.c]) {
      const p = await api.product(sku);
      await expect.poll(() => text(cell("products", sku, "on-hand")), WAIT).toBe(String(p.onHand));
      expect(await text(cell("products", sku, "reserved"))).toBe(String(p.reserved));
      expect(await text(cell("products", sku, "available .value"))).toBe(String(p.available));
      expect(await text(cell("products", sku, "name"))).toBe(p.name);
      expect(await text(cell("products", sku, "price"))).toBe(`$${(p.priceCents / 100).toFixed(2)}`);
    }
    expect(await text(cell("products", seeded.a, "on-hand"))).toBe("97"); // 3 sold
    expect(await text(cell("products", seeded.b, "available .value"))).toBe("3");
    expect(await row("products", seeded.b).getAttribute("class")).toMatch(/\blow\b/);
    expect(await text(cell("products", seeded.b, "stock-badge"))).toBe("Low");
    expect((await row("products", seeded.a).getAttribute("class")) ?? "").not.toMatch(/\blow\b/);
    expect(await page.locator("#products-table tbody tr").count()).toBe(3);

    // Orders: all four, newest first, paid ones without a hold, reserved ones counting down.
    await expect.poll(() => page.locator("#orders-table tbody tr").count(), WAIT).toBe(4);
    const keys = await page.locator("#orders-table tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-key")));
    expect(keys).toEqual(seeded.orders.map((o) => o.id).reverse());
    const [paid1, paid2, held1, held2] = seeded.orders;
    for (const o of [paid1, paid2]) {
      expect(await text(cell("orders", o.id, "status"))).toBe("paid");
      expect(await text(cell("orders", o.id, "hold"))).toBe("—");
    }
    for (const o of [held1, held2]) {
      expect(await text(cell("orders", o.id, "status"))).toBe("reserved");
      expect(await text(cell("orders", o.id, "hold"))).toMatch(/^in \d{1,2}:\d\d$/);
      expect(await text(cell("orders", o.id, "total"))).toBe(`$${(o.totalCents / 100).toFixed(2)}`);
    }
    expect(await text(cell("orders", held2.id, "lines"))).toBe("1 line · 3 units");
    expect(await text(cell("orders", paid1.id, "placed"))).toMatch(/^\d+[smh].* ago$/);

    // Collisions, as /metrics counts them: 1 client conflict, 1 replay, 1 webhook duplicate.
    const metrics = await api.metricsText();
    expect(metricSum(metrics, "orderlock_version_conflicts_total", 'source="client"')).toBe(1);
    expect(metricSum(metrics, "orderlock_idempotent_replays_total")).toBe(1);
    expect(metricSum(metrics, "orderlock_webhook_events_total", 'outcome="duplicate"')).toBe(1);
    const tile = (id: string, part: string) => page.locator(`#tile-${id} .tile-${part}`);
    await expect.poll(() => text(tile("conflicts", "value")), WAIT).toBe(String(metricSum(metrics, "orderlock_version_conflicts_total")));
    expect(await text(tile("conflicts", "detail"))).toBe("client 1 · internal 0");
    expect(await text(tile("replays", "value"))).toBe("1");
    expect(await text(tile("in-use", "value"))).toBe(String(metricSum(metrics, "orderlock_idempotency_key_in_use_total")));
    expect(await text(tile("retries", "value"))).toBe(String(metricSum(metrics, "orderlock_transaction_retries_total")));
    expect(await text(tile("webhook-duplicates", "value"))).toBe("1");
    expect(await text(tile("webhook-duplicates", "detail"))).toBe(`of ${metricSum(metrics, "orderlock_webhook_events_total")} deliveries`);
    await expect.poll(() => text(tile("replays", "rate")), WAIT).toMatch(/^\+\d+\.\d\/min$/); // measured between two polls

    // Every API call carried the admin key as a Bearer token; nothing left this origin.
    const calls = apiRequests().filter((r) => r.headers.authorization === `Bearer ${ADMIN_KEY}`);
    expect(calls.length).toBeGreaterThan(5);
    expect(requests.every((r) => new URL(r.url).origin === t.url)).toBe(true);
    expect(requests.every((r) => !r.url.includes(ADMIN_KEY))).toBe(true);
  });

  it("when a restock's response is lost and the operator double-clicks and submits again, then stock grows exactly once (same Idempotency-Key)", async () => {
    const before = await api.product(seeded.a);
    let intercepted = 0;
    await page.route("**/stock-adjustments", async (route) => {
      if (intercepted++ === 0) {
        await route.fetch(); // the service applies it...
        await route.abort("connectionreset"); // ...and the answer never reaches the page
      } else {
        await route.continue();
      }
    });
    await page.getByRole("button", { name: `Restock ${seeded.a}` }).click();
    await page.locator("#restock-delta").fill("25");
    await page.locator("#restock-reason").fill("Delivery from supplier");
    await page.locator("#restock-submit").dblclick();
    await expect.poll(() => text(page.locator("#restock-problem")), WAIT).toMatch(/^No answer from the service/);
    expect((await api.product(seeded.a)).onHand).toBe(before.onHand + 25);

    await page.locator("#restock-submit").click();
    await page.locator("#restock-dialog").waitFor({ state: "hidden" });
    await expect.poll(() => text(page.locator("#toasts")), WAIT).toMatch(/replayed/);
    await page.unroute("**/stock-adjustments");

    const after = await api.product(seeded.a);
    expect(after.onHand).toBe(before.onHand + 25);
    const stockRows = await t.ds.query(`SELECT on_hand FROM products WHERE sku = $1`, [seeded.a]);
    expect(stockRows[0].on_hand).toBe(before.onHand + 25);
    await expect.poll(() => text(cell("products", seeded.a, "on-hand")), WAIT).toBe(String(before.onHand + 25));

    const posts = requests.filter((r) => r.method === "POST" && r.url.endsWith(`/v1/products/${seeded.a}/stock-adjustments`));
    expect(posts).toHaveLength(2);
    expect(posts[0].headers["idempotency-key"]).toMatch(/^dashboard-[0-9a-f]{32}$/);
    expect(posts[1].headers["idempotency-key"]).toBe(posts[0].headers["idempotency-key"]);
    expect(posts.every((p) => p.headers.authorization === `Bearer ${ADMIN_KEY}`)).toBe(true);
  });

  it("when a request is refused with a 4xx, then the dialog shows the problem's detail", async () => {
    await page.getByRole("button", { name: `Restock ${seeded.b}` }).click();
    await page.locator("#restock-delta").fill("-100");
    await page.locator("#restock-submit").click();
    const refused = await t.http().post(`/v1/products/${seeded.b}/stock-adjustments`).set(t.admin).send({ delta: -100, reason: "probe" });
    expect(refused.status).toBe(409);
    await expect.poll(() => text(page.locator("#restock-problem")), WAIT).toBe(`${refused.body.detail} (409 insufficient_stock)`);
    await page.locator("#restock-dialog [data-close]").click();

    await page.getByRole("button", { name: `Edit ${seeded.b}` }).click();
    await page.locator("#edit-price").fill("9999999.99"); // above the API's maximum price
    await page.locator("#edit-submit").click();
    await expect
      .poll(() => text(page.locator("#edit-problem")), WAIT)
      .toMatch(/^The request failed validation\. priceCents: .+ \(422 validation_failed\)$/);
    await page.locator("#edit-dialog [data-close]").click();
    expect((await api.product(seeded.b)).onHand).toBe(4);
  });

  it("when the product changed behind the page's back, then saving shows the version conflict with the current values, and retry applies the edit on top", async () => {
    const c = seeded.c;
    const seen = await api.product(c);
    await expect.poll(() => text(cell("products", c, "version")), WAIT).toBe(`v${seen.version}`);
    await page.getByRole("button", { name: `Edit ${c}` }).click();
    await expect.poll(() => text(page.locator("#edit-base")), WAIT).toMatch(new RegExp(`^Editing version ${seen.version}\\.`));

    // Another admin renames it meanwhile.
    const other = await t
      .http()
      .patch(`/v1/products/${c}`)
      .set(t.admin)
      .set("If-Match", `"${seen.version}"`)
      .send({ name: "Green gizmo XL" });
    expect(other.status).toBe(200);

    await page.locator("#edit-price").fill("39.99");
    await page.locator("#edit-submit").click();
    await page.locator("#edit-conflict").waitFor({ state: "visible" });
    expect(await text(page.locator("#conflict-current-name"))).toBe("Green gizmo XL");
    expect(await text(page.locator("#conflict-current-price"))).toBe("$45.00");
    expect(await text(page.locator("#conflict-mine-name"))).toBe("(unchanged)");
    expect(await text(page.locator("#conflict-mine-price"))).toBe("$39.99");
    expect(await text(page.locator("#edit-conflict-detail"))).toContain(`someone has saved version ${seen.version + 1} since`);
    expect((await api.product(c)).priceCents).toBe(4500); // nothing was overwritten
    await page.screenshot({ path: path.join(SCREENSHOTS, "dashboard-conflict.png") });

    await page.getByRole("button", { name: `Apply my edit to version ${seen.version + 1}` }).click();
    await page.locator("#edit-dialog").waitFor({ state: "hidden" });
    const now = await api.product(c);
    expect(now).toMatchObject({ name: "Green gizmo XL", priceCents: 3999, version: seen.version + 2 });
    await expect.poll(() => text(cell("products", c, "price")), WAIT).toBe("$39.99");
    expect(await text(cell("products", c, "name"))).toBe("Green gizmo XL");

    const patches = requests.filter((r) => r.method === "PATCH" && r.url.endsWith(`/v1/products/${c}`));
    expect(patches.map((p) => p.headers["if-match"])).toEqual([`"${seen.version}"`, `"${seen.version + 1}"`]);

    // The page's own conflict shows in the collision counters, with a rate.
    await expect.poll(() => text(page.locator("#tile-conflicts .tile-value")), WAIT).toBe("2");
    await expect.poll(() => text(page.locator("#tile-conflicts .tile-rate")), WAIT).toMatch(/^\+(?!0\.0\/)\d+\.\d\/min$/);

    await expect.poll(() => page.locator("#toasts .toast").count(), WAIT).toBe(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, "dashboard.png"), fullPage: true });
  });

  it("when the tab is hidden, then polling stops until it is visible again", async () => {
    await setHidden(true);
    await expect.poll(() => text(page.locator("#live-status")), WAIT).toBe("Paused while this tab is hidden");
    const before = apiRequests().length;
    await page.clock.fastForward(60_000); // twelve poll intervals
    await expect(page.waitForRequest(/\/v1\//, { timeout: 1500 })).rejects.toThrow();
    expect(apiRequests().length).toBe(before);

    const next = page.waitForRequest(/\/v1\//);
    await setHidden(false);
    await next;
    await expect.poll(() => text(page.locator("#live-status")), WAIT).toMatch(/^Live/);
  });

  it("when the server has no purchase metrics and no webhook counter (an older version), then those panels say not available and the rest works", async () => {
    const older = await context.newPage(); // a new tab: its own sessionStorage, so it asks for the key again
    older.on("pageerror", (err) => consoleProblems.push(`pageerror: ${err.message}`));
    await older.route("**/v1/metrics/**", (route) =>
      route.fulfill({
        status: 404,
        contentType: "application/problem+json",
        body: JSON.stringify({ type: "about:blank", title: "Not found", status: 404, code: "not_found", detail: "No route." }),
      }),
    );
    await older.route("**/metrics", async (route) => {
      const res = await route.fetch();
      const body = (await res.text())
        .split("\n")
        .filter((l) => !l.includes("orderlock_webhook_events_total"))
        .join("\n");
      await route.fulfill({ response: res, body });
    });
    await older.goto(`${t.url}/dashboard`);
    await older.locator("#admin-key").fill(ADMIN_KEY);
    await older.locator("#login-submit").click();
    await older.locator("#dashboard-view").waitFor({ state: "visible" });

    const problem = (panel: string) => text(older.locator(`#${panel}-panel .panel-problem`));
    await expect.poll(() => problem("purchases"), WAIT).toBe("Not available: this server does not provide /v1/metrics/purchases yet.");
    await expect
      .poll(() => problem("reconciliation"), WAIT)
      .toBe("Not available: this server does not provide /v1/metrics/purchases/reconciliation yet.");
    expect(await older.locator("#purchases-panel .panel-body").isVisible()).toBe(false);
    await expect.poll(() => text(older.locator("#tile-webhook-duplicates .tile-value")), WAIT).toBe("n/a");
    expect(await text(older.locator("#tile-conflicts .tile-value"))).toBe("2");
    await expect.poll(() => older.locator("#products-table tbody tr").count(), WAIT).toBe(3);
    expect(await older.locator("#orders-table tbody tr").count()).toBe(4);
    expect(await text(older.locator("#live-status"))).toMatch(/^Live · updated/); // a missing panel is not a failure
    await older.screenshot({ path: path.join(SCREENSHOTS, "dashboard-degraded.png") });
    await older.close();
    expect(consoleProblems).toEqual([]);
  });
});
