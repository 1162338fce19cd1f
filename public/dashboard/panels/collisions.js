// Collisions: this instance's /metrics counters of version conflicts, retries,
// idempotent replays, keys in use and webhook duplicates, each as a total and
// a rate over the last minute. The panel's section is #concurrency-panel.

import { request, serverNow } from "../api.js";
import { byId, h, setText } from "../dom.js";
import { int, perMinute } from "../format.js";
import { CounterRates, counterBy, counterTotal, parsePrometheus } from "../prometheus.js";

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

const rates = new CounterRates(60_000);

/** Empty tiles: at start and after signing out. */
export function buildTiles() {
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

async function load() {
  const { data } = await request("/metrics", { as: "text" });
  return { parsed: parsePrometheus(data), atMs: serverNow() };
}

function render({ parsed, atMs }) {
  const totals = Object.fromEntries(TILES.map((t) => [t.id, t.total(parsed)]));
  const now = rates.update(totals, atMs);
  for (const t of TILES) {
    const el = byId(`tile-${t.id}`);
    const total = totals[t.id];
    el.classList.toggle("na", total === null);
    el.classList.toggle("active", (now[t.id] ?? 0) > 0);
    setText(el.querySelector(".tile-value"), total === null ? "n/a" : int(total));
    setText(
      el.querySelector(".tile-rate"),
      total === null ? "not exported by this server" : now[t.id] === null ? "rate after the next poll" : perMinute(now[t.id]),
    );
    setText(el.querySelector(".tile-detail"), total === null ? "" : t.detail(parsed));
  }
}

function reset() {
  rates.reset();
  buildTiles();
}

export const collisionsPanel = { name: "concurrency", path: "/metrics", load, render, reset };
