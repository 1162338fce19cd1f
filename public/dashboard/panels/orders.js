// Latest orders: the newest 50 (the admin sees every customer's), with their
// age and, while stock is held, the hold counting down every second by the
// server's clock (rows about to expire are marked).

import { get, serverNow } from "../api.js";
import { byId, h, setText, syncRows } from "../dom.js";
import { clock, int, money, shortId, span } from "../format.js";

const EXPIRING_SOON_MS = 120_000;

async function load() {
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

function render(data) {
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

function reset() {
  byId("orders-table").tBodies[0].replaceChildren();
}

export const ordersPanel = { name: "orders", path: "/v1/orders", load, render, reset };

/** Ages and hold countdowns, every second, from the server's clock. */
export function updateClocks(root = byId("orders-table")) {
  const now = serverNow();
  for (const el of root.querySelectorAll("[data-since]")) setText(el, `${span(now - Date.parse(el.dataset.since))} ago`);
  for (const el of root.querySelectorAll("[data-until]")) {
    const left = Date.parse(el.dataset.until) - now;
    setText(el, left > 0 ? `in ${clock(left)}` : "now");
    el.closest("tr").classList.toggle("expiring", left < EXPIRING_SOON_MS);
  }
}
