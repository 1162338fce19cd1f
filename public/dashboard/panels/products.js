// Products: on hand, reserved and available (low stock highlighted), a
// filter, and the Restock and Edit buttons that open the dialogs of
// actions.js. A product fresher than the last poll (an action's answer) is
// shown at once.

import { openEdit, openRestock } from "../actions.js";
import { get } from "../api.js";
import { byId, h, setText, syncRows } from "../dom.js";
import { int, money } from "../format.js";

const PRODUCT_PAGE_SIZE = 100;
const MAX_PRODUCT_PAGES = 20;

let products = new Map();
let truncated = false;
let filter = "";

async function load() {
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

function render(data) {
  products = new Map(data.items.map((p) => [p.sku, p]));
  truncated = data.truncated;
  draw();
}

function draw() {
  const all = [...products.values()];
  const f = filter.toLowerCase();
  const shown = f ? all.filter((p) => p.sku.toLowerCase().includes(f) || p.name.toLowerCase().includes(f)) : all;
  const low = all.filter(isLow).length;
  setText(
    byId("products-summary"),
    `${int(all.length)}${truncated ? "+" : ""} · ${low ? `${int(low)} low on stock` : "none low on stock"}`,
  );
  syncRows(byId("products-table").tBodies[0], shown, (p) => p.sku, createProductRow, updateProductRow);
  const empty = byId("products-empty");
  empty.hidden = shown.length > 0;
  setText(empty, all.length ? "No product matches the filter." : "No products yet.");
}

function reset() {
  products = new Map();
  byId("products-table").tBodies[0].replaceChildren();
}

export const productsPanel = { name: "products", path: "/v1/products", load, render, reset };

/** A product representation fresher than the last poll (after an action): show it now. */
export function showProduct(p) {
  if (!p?.sku) return;
  products.set(p.sku, p);
  draw();
}

export function setupProducts() {
  byId("products-filter").addEventListener("input", (e) => {
    filter = e.target.value.trim();
    draw();
  });
  byId("products-table").tBodies[0].addEventListener("click", (e) => {
    const button = e.target.closest("button[data-action]");
    if (!button) return;
    const product = products.get(button.closest("tr").dataset.key);
    if (!product) return;
    if (button.dataset.action === "restock") openRestock(product);
    else openEdit(product);
  });
}
