// The operations dashboard: sign-in with the admin key, then every few
// seconds (only while the tab is visible) read the service's own API and
// /metrics and render each panel. A panel whose endpoint fails or does not
// exist says so and the others carry on.
//
// This file wires the page: the session, the polling loop and the live
// status. Each panel is a module in panels/ that loads and renders its own
// data; the operator's dialogs are in actions.js.

import { closeDialogs, setupActions } from "./actions.js";
import { ApiError, NetworkError, request, serverNow, session } from "./api.js";
import { byId, h, setText } from "./dom.js";
import { setCurrency, utcDay, utcTime } from "./format.js";
import { buildTiles, collisionsPanel } from "./panels/collisions.js";
import { ordersPanel, updateClocks } from "./panels/orders.js";
import { notAvailable, setPanelProblem } from "./panels/panel.js";
import { productsPanel, setupProducts, showProduct } from "./panels/products.js";
import { purchasesPanel, setupPurchases } from "./panels/purchases.js";
import { reconciliationPanel, setupReconciliation } from "./panels/reconciliation.js";
import { webhooksPanel } from "./panels/webhooks.js";

const POLL_MS = 5_000;

const PANELS = [purchasesPanel, reconciliationPanel, collisionsPanel, productsPanel, ordersPanel, webhooksPanel];

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

let lastGoodAt = 0;
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
  const at = lastGoodAt ? utcTime(lastGoodAt) : "never";
  const text = {
    live: `Live · updated ${at}`,
    degraded: `Updated ${at} · some panels failed`,
    offline: `Service not answering · retrying (last update ${at})`,
    paused: "Paused while this tab is hidden",
    loading: "Loading…",
  }[mode];
  setText(ui.live.querySelector(".live-text"), text);
}

// ---- Polling ----------------------------------------------------------------------------

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
  if (!offline) lastGoodAt = serverNow();
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
  lastGoodAt = 0;
  for (const p of PANELS) {
    p.lastAt = 0;
    p.reset();
  }
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
setupReconciliation({ onError: handleError });
setupPurchases({ onError: handleError });
setupProducts();
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
