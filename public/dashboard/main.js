// The operations dashboard: sign-in with the admin key, then every few
// seconds (only while the tab is visible) read the service's own API and
// /metrics and render each panel. A panel whose endpoint fails or does not
// exist says so and the others carry on.

import { closeDialogs, openEdit, openRestock, setupActions } from "./actions.js";
import { ApiError, get, NetworkError, request, serverNow, session } from "./api.js";
import { barChart } from "./chart.js";
import { byId, h, setText, syncRows } from "./dom.js";
import { clock, compactMoney, int, money, perMinute, setCurrency, shortId, span, utcDay, utcTime } from "./format.js";
import { CounterRates, counterBy, counterTotal, parsePrometheus } from "./prometheus.js";

const POLL_MS = 5_000;
const RECONCILE_EVERY_MS = 30_000; // it sums every succeeded payment: not on every poll
const PRODUCT_PAGE_SIZE = 100;
const MAX_PRODUCT_PAGES = 20;
const EXPIRING_SOON_MS = 120_000;
const RANGE_STORAGE = "orderlock.dashboard.rangeDays";

const ui = {
  loginView: byId("login-view"),
  loginForm: byId("login-form"),
  loginKey: byId("admin-key"),
  loginError: byId("login-error"),
  loginSubmit: byId("login-submit"),
  dashboard: byId("dashboard-view"),
  sessionControls: byId("session-controls"),
  live: byId("live-status"),
  toasts: byId("toasts"),
};

const state = {
  rangeDays: [7, 30, 90].includes(Number(localStorage.getItem(RANGE_STORAGE))) ? Number(localStorage.getItem(RANGE_STORAGE)) : 30,
  products: new Map(),
  productsTruncated: false,
  productFilter: "",
  lastChartKey: "",
  lastReconcileAt: 0,
  lastGoodAt: 0,
  rates: new CounterRates(60_000),
};

let pollTimer = null;
let tickTimer = null;
let inFlight = null;

// ---- Small UI pieces ---------------------------------------------------------

function toast(text, kind = "info") {
  const el = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status", text });
  ui.toasts.append(el);
  setTimeout(() => el.remove(), 6000);
}

function setLive(mode) {
  ui.live.dataset.mode = mode;
  const at = state.lastGoodAt ? utcTime(state.lastGoodAt) : "never";
  const text = {
    live: `Live · updated ${at}`,
    degraded: `Updated ${at} · some panels failed`,
    offline: `Service not answering · retrying (last update ${at})`,
    paused: "Paused while this tab is hidden",
    loading: "Loading…",
  }[mode];
  setText(ui.live.querySelector(".live-text"), text);
}

const panel = (name) => byId(`${name}-panel`);

/** A 404 from a collection route means the route does not exist on this server (yet). */
const notAvailable = (err) => err instanceof ApiError && err.status === 404;

function setPanelProblem(name, err, path) {
  const p = panel(name);
  const box = p.querySelector(".panel-problem");
  p.classList.toggle("unavailable", notAvailable(err));
  p.classList.toggle("stale", Boolean(err) && !notAvailable(err));
  if (!err) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  if (notAvailable(err)) setText(box, `Not available: this server does not provide ${path} yet.`);
  else if (err instanceof NetworkError) setText(box, `${err.message} Showing the last data received.`);
  else if (err instanceof ApiError)
    setText(box, `${err.display} (${err.status}${err.code ? ` ${err.code}` : ""}). Showing the last data received.`);
  else setText(box, `Could not show this panel: ${err.message}`);
}

// ---- Purchases -----------------------------------------------------------------

function purchasesPath(rangeDays) {
  const now = serverNow();
  return `/v1/metrics/purchases?from=${utcDay(now, -(rangeDays - 1))}&to=${utcDay(now)}`;
}

async function loadPurchases() {
  const rangeDays = state.rangeDays;
  const { data } = await get(purchasesPath(rangeDays));
  return { rangeDays, report: data };
}

function renderPurchases({ rangeDays, report }) {
  if (rangeDays !== state.rangeDays) return; // the range changed while this was loading
  const days = report.days.map((d) => ({ ...d, day: String(d.day).slice(0, 10) }));
  const today = days[days.length - 1];
  setText(byId("kpi-purchases"), int(report.totals.purchases));
  setText(byId("kpi-revenue"), money(report.totals.revenueCents));
  setText(byId("kpi-customers"), int(report.totals.uniqueCustomers));
  setText(byId("kpi-purchases-today"), today ? `${int(today.purchases)} today` : "");
  setText(byId("kpi-revenue-today"), today ? `${money(today.revenueCents)} today` : "");
  setText(byId("kpi-customers-today"), today ? `${int(today.uniqueCustomers)} today` : "");
  // Refunds are compensating entries on their own UTC day (a reversed dispute counts back on the day it was reversed).
  setText(byId("kpi-refunds"), int(report.totals.refunds ?? 0));
  setText(byId("kpi-refunded"), `${money(report.totals.refundedCents ?? 0)} refunded`);
  setText(byId("kpi-net-revenue"), money(report.totals.netRevenueCents ?? report.totals.revenueCents));
  setText(byId("kpi-net-revenue-today"), today ? `${money(today.netRevenueCents ?? today.revenueCents)} today` : "");
  const key = JSON.stringify([rangeDays, days]);
  if (key === state.lastChartKey) return; // unchanged: keep the SVG (and any open tooltip)
  state.lastChartKey = key;
  const series = [
    ["chart-purchases", "Purchases", "purchases", (v) => int(v), (v) => int(v), true, "series-purchases"],
    ["chart-revenue", "Revenue", "revenueCents", (v) => money(v), (v) => compactMoney(v), false, "series-revenue"],
    ["chart-customers", "Unique customers", "uniqueCustomers", (v) => int(v), (v) => int(v), true, "series-customers"],
  ];
  for (const [id, title, field, format, axisFormat, integer, seriesClass] of series) {
    const values = days.map((d) => ({ day: d.day, value: Number(d[field]) }));
    byId(id).replaceChildren(barChart({ title, days: values, format, axisFormat, integer, seriesClass }));
  }
}

function setRange(days) {
  state.rangeDays = days;
  localStorage.setItem(RANGE_STORAGE, String(days));
  for (const b of panel("purchases").querySelectorAll("[data-range]"))
    b.setAttribute("aria-pressed", String(Number(b.dataset.range) === days));
  loadPurchases().then(
    (r) => {
      renderPurchases(r);
      setPanelProblem("purchases", null);
    },
    (err) => handleError(err) || setPanelProblem("purchases", err, "/v1/metrics/purchases"),
  );
}

// ---- Reconciliation ------------------------------------------------------------

async function loadReconciliation() {
  return (await get("/v1/metrics/purchases/reconciliation")).data;
}

function renderReconciliation(r) {
  const status = byId("recon-status");
  status.dataset.ok = String(Boolean(r.ok));
  setText(status.querySelector(".recon-icon"), r.ok ? "✓" : "!");
  setText(
    status.querySelector(".recon-text"),
    r.ok ? "In balance: counters match succeeded payments" : "Drift: counters differ from succeeded payments",
  );
  setText(byId("recon-counter-purchases"), int(r.counters.purchases));
  setText(byId("recon-event-purchases"), int(r.events.purchases));
  setText(byId("recon-drift-purchases"), `${r.drift.purchases > 0 ? "+" : ""}${int(r.drift.purchases)}`);
  setText(byId("recon-counter-revenue"), money(r.counters.revenueCents));
  setText(byId("recon-event-revenue"), money(r.events.revenueCents));
  setText(byId("recon-drift-revenue"), `${r.drift.revenueCents > 0 ? "+" : ""}${money(r.drift.revenueCents)}`);
  byId("recon-drift-purchases").classList.toggle("bad", r.drift.purchases !== 0);
  byId("recon-drift-revenue").classList.toggle("bad", r.drift.revenueCents !== 0);
  setText(byId("recon-counter-refunds"), int(r.counters.refunds ?? 0));
  setText(byId("recon-event-refunds"), int(r.events.refunds ?? 0));
  setText(byId("recon-drift-refunds"), `${r.drift.refunds > 0 ? "+" : ""}${int(r.drift.refunds ?? 0)}`);
  setText(byId("recon-counter-refunded"), money(r.counters.refundedCents ?? 0));
  setText(byId("recon-event-refunded"), money(r.events.refundedCents ?? 0));
  setText(byId("recon-drift-refunded"), `${r.drift.refundedCents > 0 ? "+" : ""}${money(r.drift.refundedCents ?? 0)}`);
  byId("recon-drift-refunds").classList.toggle("bad", (r.drift.refunds ?? 0) !== 0);
  byId("recon-drift-refunded").classList.toggle("bad", (r.drift.refundedCents ?? 0) !== 0);
  setText(byId("recon-checked"), `Checked ${utcTime(Date.parse(r.checkedAt))}; rechecked every ${RECONCILE_EVERY_MS / 1000} s.`);
}

// ---- Collisions (/metrics) -----------------------------------------------------------

const TILES = [
  {
    id: "conflicts",
    label: "Version conflicts",
    total: (p) => counterTotal(p, "orderlock_version_conflicts_total"),
    detail: (p) => {
      const by = counterBy(p, "orderlock_version_conflicts_total", "source");
      return `client ${int(by.client ?? 0)} · internal ${int(by.internal ?? 0)}`;
    },
  },
  {
    id: "retries",
    label: "Transaction retries",
    total: (p) => counterTotal(p, "orderlock_transaction_retries_total"),
    detail: (p) => {
      const by = Object.entries(counterBy(p, "orderlock_transaction_retries_total", "cause")).filter(([, v]) => v > 0);
      return by.length ? by.map(([k, v]) => `${k.replaceAll("_", " ")} ${int(v)}`).join(" · ") : "none";
    },
  },
  {
    id: "replays",
    label: "Idempotent replays",
    total: (p) => counterTotal(p, "orderlock_idempotent_replays_total"),
    detail: () => "answered from a stored response",
  },
  {
    id: "in-use",
    label: "Idempotency key in use",
    total: (p) => counterTotal(p, "orderlock_idempotency_key_in_use_total"),
    detail: () => "409 while the first was in flight",
  },
  {
    id: "webhook-duplicates",
    label: "Webhook duplicates",
    total: (p) => counterTotal(p, "orderlock_webhook_events_total", { outcome: "duplicate" }),
    detail: (p) => {
      const total = counterTotal(p, "orderlock_webhook_events_total");
      return total === null ? "" : `of ${int(total)} deliveries`;
    },
  },
];

function buildTiles() {
  const box = byId("tiles");
  box.replaceChildren(
    ...TILES.map((t) =>
      h(
        "div",
        { class: "tile", id: `tile-${t.id}` },
        h("span", { class: "tile-label", text: t.label }),
        h("span", { class: "tile-value", text: "–" }),
        h("span", { class: "tile-rate", text: "" }),
        h("span", { class: "tile-detail", text: "" }),
      ),
    ),
  );
}

async function loadMetrics() {
  const { data } = await request("/metrics", { as: "text" });
  return { parsed: parsePrometheus(data), atMs: serverNow() };
}

function renderMetrics({ parsed, atMs }) {
  const totals = Object.fromEntries(TILES.map((t) => [t.id, t.total(parsed)]));
  const rates = state.rates.update(totals, atMs);
  for (const t of TILES) {
    const el = byId(`tile-${t.id}`);
    const total = totals[t.id];
    el.classList.toggle("na", total === null);
    el.classList.toggle("active", (rates[t.id] ?? 0) > 0);
    setText(el.querySelector(".tile-value"), total === null ? "n/a" : int(total));
    setText(
      el.querySelector(".tile-rate"),
      total === null ? "not exported by this server" : rates[t.id] === null ? "rate after the next poll" : perMinute(rates[t.id]),
    );
    setText(el.querySelector(".tile-detail"), total === null ? "" : t.detail(parsed));
  }
}

// ---- Products ----------------------------------------------------------------------

async function loadProducts() {
  const items = [];
  let cursor = null;
  let pages = 0;
  do {
    const q = new URLSearchParams({ limit: String(PRODUCT_PAGE_SIZE) });
    if (cursor) q.set("cursor", cursor);
    const { data } = await get(`/v1/products?${q}`);
    items.push(...data.items);
    cursor = data.nextCursor;
    pages++;
  } while (cursor && pages < MAX_PRODUCT_PAGES);
  return { items, truncated: Boolean(cursor) };
}

/** Low stock: at most 5 available, or at most 10% of what is on hand. */
const isLow = (p) => p.available <= 5 || p.available <= 0.1 * p.onHand;

function createProductRow(p) {
  const cell = (cls) => h("td", { class: cls });
  return h(
    "tr",
    {},
    h("td", {}, h("code", { class: "sku" })),
    cell("name"),
    cell("num price"),
    cell("num on-hand"),
    cell("num reserved"),
    h("td", { class: "num available" }, h("span", { class: "badge stock-badge" }), h("span", { class: "value" })),
    cell("num version muted"),
    h(
      "td",
      { class: "actions" },
      h("button", {
        type: "button",
        class: "btn btn-small",
        dataset: { action: "restock" },
        "aria-label": `Restock ${p.sku}`,
        text: "Restock",
      }),
      h("button", {
        type: "button",
        class: "btn btn-small btn-ghost",
        dataset: { action: "edit" },
        "aria-label": `Edit ${p.sku}`,
        text: "Edit",
      }),
    ),
  );
}

function updateProductRow(tr, p) {
  const low = isLow(p);
  tr.classList.toggle("low", low);
  tr.classList.toggle("out", p.available <= 0);
  setText(tr.querySelector(".sku"), p.sku);
  setText(tr.querySelector(".name"), p.name);
  setText(tr.querySelector(".price"), money(p.priceCents));
  setText(tr.querySelector(".on-hand"), int(p.onHand));
  setText(tr.querySelector(".reserved"), int(p.reserved));
  setText(tr.querySelector(".available .value"), int(p.available));
  const badge = tr.querySelector(".stock-badge");
  setText(badge, p.available <= 0 ? "Out" : low ? "Low" : "");
  badge.hidden = !low;
  setText(tr.querySelector(".version"), `v${p.version}`);
}

function renderProducts({ items, truncated }) {
  state.products = new Map(items.map((p) => [p.sku, p]));
  state.productsTruncated = truncated;
  drawProducts();
}

function drawProducts() {
  const all = [...state.products.values()];
  const f = state.productFilter.toLowerCase();
  const shown = f ? all.filter((p) => p.sku.toLowerCase().includes(f) || p.name.toLowerCase().includes(f)) : all;
  const low = all.filter(isLow).length;
  setText(
    byId("products-summary"),
    `${int(all.length)}${state.productsTruncated ? "+" : ""} · ${low ? `${int(low)} low on stock` : "none low on stock"}`,
  );
  syncRows(byId("products-table").tBodies[0], shown, (p) => p.sku, createProductRow, updateProductRow);
  const empty = byId("products-empty");
  empty.hidden = shown.length > 0;
  setText(empty, all.length ? "No product matches the filter." : "No products yet.");
}

/** A product representation fresher than the last poll (after an action): show it now. */
function showProduct(p) {
  if (!p || !p.sku) return;
  state.products.set(p.sku, p);
  drawProducts();
}

// ---- Orders ----------------------------------------------------------------------------

async function loadOrders() {
  return (await get("/v1/orders?limit=50")).data;
}

function createOrderRow() {
  return h(
    "tr",
    {},
    h("td", {}, h("code", { class: "order-id" })),
    h("td", {}, h("code", { class: "customer-id muted" })),
    h("td", {}, h("span", { class: "badge status" })),
    h("td", { class: "lines" }),
    h("td", { class: "num total" }),
    h("td", { class: "num placed" }),
    h("td", { class: "num hold" }),
  );
}

function updateOrderRow(tr, o) {
  const id = tr.querySelector(".order-id");
  setText(id, shortId(o.id));
  id.title = o.id;
  const customer = tr.querySelector(".customer-id");
  setText(customer, shortId(o.customerId));
  customer.title = o.customerId;
  const status = tr.querySelector(".status");
  status.dataset.status = o.status;
  setText(status, o.status.replace("_", " "));
  const units = o.lines.reduce((n, l) => n + l.quantity, 0);
  const lines = tr.querySelector(".lines");
  setText(lines, `${o.lines.length} ${o.lines.length === 1 ? "line" : "lines"} · ${int(units)} ${units === 1 ? "unit" : "units"}`);
  lines.title = o.lines.map((l) => `${l.sku} × ${l.quantity}`).join("\n");
  setText(tr.querySelector(".total"), money(o.totalCents));
  const placed = tr.querySelector(".placed");
  placed.dataset.since = o.createdAt;
  placed.title = o.createdAt;
  const hold = tr.querySelector(".hold");
  const holding = o.reservedUntil && (o.status === "reserved" || o.status === "pending_payment");
  if (holding) {
    hold.dataset.until = o.reservedUntil;
    hold.title = o.reservedUntil;
  } else {
    delete hold.dataset.until;
    hold.removeAttribute("title");
    setText(hold, "—");
    tr.classList.remove("expiring");
  }
  updateClocks(tr);
}

function renderOrders(data) {
  const items = data.items;
  syncRows(byId("orders-table").tBodies[0], items, (o) => o.id, createOrderRow, updateOrderRow);
  byId("orders-empty").hidden = items.length > 0;
  const counts = {};
  for (const o of items) counts[o.status] = (counts[o.status] ?? 0) + 1;
  const parts = ["reserved", "pending_payment", "paid", "cancelled", "expired"]
    .filter((s) => counts[s])
    .map((s) => `${counts[s]} ${s.replace("_", " ")}`);
  setText(byId("orders-summary"), items.length ? `· newest ${items.length}: ${parts.join(", ")}` : "");
}

/** Ages and hold countdowns, every second, from the server's clock. */
function updateClocks(root = byId("orders-table")) {
  const now = serverNow();
  for (const el of root.querySelectorAll("[data-since]")) setText(el, `${span(now - Date.parse(el.dataset.since))} ago`);
  for (const el of root.querySelectorAll("[data-until]")) {
    const left = Date.parse(el.dataset.until) - now;
    setText(el, left > 0 ? `in ${clock(left)}` : "now");
    el.closest("tr").classList.toggle("expiring", left < EXPIRING_SOON_MS);
  }
}

// ---- Polling ----------------------------------------------------------------------------

const PANELS = [
  { name: "purchases", path: "/v1/metrics/purchases", load: loadPurchases, render: renderPurchases },
  {
    name: "reconciliation",
    path: "/v1/metrics/purchases/reconciliation",
    load: loadReconciliation,
    render: renderReconciliation,
    every: RECONCILE_EVERY_MS,
  },
  { name: "concurrency", path: "/metrics", load: loadMetrics, render: renderMetrics },
  { name: "products", path: "/v1/products", load: loadProducts, render: renderProducts },
  { name: "orders", path: "/v1/orders", load: loadOrders, render: renderOrders },
];

/** A 401 or 403 anywhere ends the session with a clear message. True if handled. */
function handleError(err) {
  if (!(err instanceof ApiError)) return false;
  if (err.status === 401) {
    signOut(`The admin key was not accepted (401): ${err.display}`);
    return true;
  }
  if (err.status === 403) {
    signOut(`This key is not the admin key (403): ${err.display}`);
    return true;
  }
  return false;
}

async function refresh({ force = false } = {}) {
  const now = serverNow();
  const due = PANELS.filter((p) => force || !p.every || now - (p.lastAt ?? 0) >= p.every);
  const results = await Promise.allSettled(due.map((p) => p.load()));
  if (!session.key()) return;
  let failed = 0;
  let offline = false;
  for (const [i, result] of results.entries()) {
    const p = due[i];
    if (result.status === "fulfilled") {
      try {
        p.render(result.value);
        p.lastAt = now;
        setPanelProblem(p.name, null);
      } catch (err) {
        failed++;
        setPanelProblem(p.name, err, p.path);
      }
      continue;
    }
    const err = result.reason;
    if (handleError(err)) return;
    if (err instanceof NetworkError) offline = true;
    if (!notAvailable(err)) failed++; // a route this server lacks is not a failure
    setPanelProblem(p.name, err, p.path);
  }
  if (!offline) state.lastGoodAt = serverNow();
  setLive(offline ? "offline" : failed ? "degraded" : "live");
}

function schedule() {
  clearTimeout(pollTimer);
  pollTimer = null;
  if (!session.key() || document.hidden) return;
  pollTimer = setTimeout(poll, POLL_MS);
}

async function poll(options) {
  clearTimeout(pollTimer);
  pollTimer = null;
  if (!inFlight) inFlight = refresh(options).finally(() => (inFlight = null));
  await inFlight;
  schedule();
}

function startClocks() {
  clearInterval(tickTimer);
  tickTimer = setInterval(() => updateClocks(), 1000);
}

function stopTimers() {
  clearTimeout(pollTimer);
  clearInterval(tickTimer);
  pollTimer = tickTimer = null;
}

document.addEventListener("visibilitychange", () => {
  if (!session.key()) return;
  if (document.hidden) {
    stopTimers();
    setLive("paused");
  } else {
    startClocks();
    void poll();
  }
});

// ---- Session ------------------------------------------------------------------------------

function showLogin(message) {
  ui.dashboard.hidden = true;
  ui.sessionControls.hidden = true;
  ui.loginView.hidden = false;
  ui.loginError.hidden = !message;
  setText(ui.loginError, message ?? "");
  ui.loginKey.focus();
}

function startDashboard() {
  ui.loginView.hidden = true;
  ui.dashboard.hidden = false;
  ui.sessionControls.hidden = false;
  setLive("loading");
  startClocks();
  void poll({ force: true });
}

function signOut(message) {
  session.clear();
  stopTimers();
  closeDialogs();
  state.products = new Map();
  state.rates.reset();
  state.lastChartKey = "";
  state.lastGoodAt = 0;
  for (const p of PANELS) p.lastAt = 0;
  for (const id of ["products-table", "orders-table"]) byId(id).tBodies[0].replaceChildren();
  for (const id of ["chart-purchases", "chart-revenue", "chart-customers"]) byId(id).replaceChildren();
  buildTiles();
  showLogin(message);
}

/**
 * Checks a key before keeping it: an admin-only read answers 200 for the
 * admin key, 403 for a customer's, 401 for anything else. Returns an error
 * message, or null when the key is the admin key.
 */
async function checkKey(key) {
  const today = utcDay(serverNow());
  try {
    await request(`/v1/metrics/purchases?from=${today}&to=${today}`, { key });
    return null;
  } catch (err) {
    if (err instanceof NetworkError) return "The service did not answer. Is it running?";
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 401) return `That key was not accepted: ${err.display} Check ADMIN_API_KEY (printed at first start when generated).`;
    if (err.status === 403) return "That is a customer key. The dashboard needs the admin key (ADMIN_API_KEY).";
    if (err.status !== 404) return `${err.display} (${err.status})`;
  }
  // No purchase metrics on this server: at least make sure the key is known.
  try {
    await request("/v1/orders?limit=1", { key });
    return null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return `That key was not accepted: ${err.display}`;
    return err instanceof Error ? err.message : String(err);
  }
}

ui.loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = ui.loginKey.value.trim();
  if (!key) return showLogin("Enter the admin API key.");
  ui.loginSubmit.disabled = true;
  setText(ui.loginSubmit, "Checking…");
  try {
    const problem = await checkKey(key);
    if (problem) return showLogin(problem);
    session.set(key);
    ui.loginKey.value = "";
    ui.loginError.hidden = true;
    startDashboard();
  } finally {
    ui.loginSubmit.disabled = false;
    setText(ui.loginSubmit, "Open dashboard");
  }
});

// ---- Wiring ---------------------------------------------------------------------------------

byId("sign-out").addEventListener("click", () => signOut());
byId("refresh-now").addEventListener("click", () => void poll({ force: true }));
byId("reconcile-now").addEventListener("click", async () => {
  const p = PANELS.find((x) => x.name === "reconciliation");
  try {
    renderReconciliation(await loadReconciliation());
    p.lastAt = serverNow();
    setPanelProblem("reconciliation", null);
  } catch (err) {
    if (!handleError(err)) setPanelProblem("reconciliation", err, p.path);
  }
});
for (const b of panel("purchases").querySelectorAll("[data-range]")) {
  b.setAttribute("aria-pressed", String(Number(b.dataset.range) === state.rangeDays));
  b.addEventListener("click", () => setRange(Number(b.dataset.range)));
}
byId("products-filter").addEventListener("input", (e) => {
  state.productFilter = e.target.value.trim();
  drawProducts();
});
byId("products-table").tBodies[0].addEventListener("click", (e) => {
  const button = e.target.closest("button[data-action]");
  if (!button) return;
  const product = state.products.get(button.closest("tr").dataset.key);
  if (!product) return;
  if (button.dataset.action === "restock") openRestock(product);
  else openEdit(product);
});
setupActions({ onProductChanged: showProduct, onError: handleError, toast });
buildTiles();

async function init() {
  try {
    const { data } = await request("/dashboard/config.json", { key: null });
    if (data?.currency) setCurrency(data.currency);
  } catch {
    // keep the default currency
  }
  if (session.key()) startDashboard();
  else showLogin();
}
void init();
