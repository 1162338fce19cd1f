// The webhooks panel: every endpoint with its delivery health (last success,
// failing streak, backlog) and the most recent delivery attempts, newest
// first. Reads GET /v1/webhook-endpoints and each endpoint's deliveries.

import { get, serverNow } from "../api.js";
import { byId, h, setText, syncRows } from "../dom.js";
import { int, shortId, span } from "../format.js";

const RECENT = 15;
const FAILING_AFTER = 3; // consecutive failed attempts before an endpoint counts as failing

/** An endpoint's health in one word, from its `health` member: pure, so it is tested in Node. */
export function endpointHealth(endpoint) {
  const health = endpoint.health;
  if (endpoint.status === "disabled") return { kind: "disabled", label: "disabled" };
  if (health.failingStreak >= FAILING_AFTER) return { kind: "failing", label: `failing · ${health.failingStreak} in a row` };
  if (health.failingStreak > 0) return { kind: "retrying", label: `retrying · ${health.failingStreak} failed` };
  if (!health.lastSuccessAt) return { kind: "idle", label: health.pendingDeliveries ? "waiting" : "no deliveries yet" };
  return { kind: "healthy", label: "healthy" };
}

/** The newest attempts of all endpoints, merged, newest first. */
export function recentAttempts(pages, limit = RECENT) {
  return pages
    .flatMap(({ endpoint, items }) => items.map((a) => ({ ...a, endpointId: endpoint.id, url: endpoint.url })))
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at))
    .slice(0, limit);
}

/** Loads endpoints, then the latest attempts of (at most) the first ten. */
export async function loadWebhooks(get) {
  const endpoints = (await get("/v1/webhook-endpoints?limit=100")).data.items;
  const pages = await Promise.all(
    endpoints.slice(0, 10).map(async (endpoint) => ({
      endpoint,
      items: (await get(`/v1/webhook-endpoints/${endpoint.id}/deliveries?limit=${RECENT}`)).data.items,
    })),
  );
  return { endpoints, attempts: recentAttempts(pages) };
}

const ago = (iso, now) => (iso ? `${span(now - Date.parse(iso))} ago` : "—");

export function renderWebhooks(data, now) {
  const { endpoints, attempts } = data;
  syncRows(
    byId("webhooks-table").tBodies[0],
    endpoints,
    (e) => e.id,
    () =>
      h(
        "tr",
        {},
        h("td", {}, h("code", { class: "url" })),
        h("td", {}, h("span", { class: "badge health" })),
        h("td", { class: "num ok-at" }),
        h("td", { class: "num streak" }),
        h("td", { class: "num backlog" }),
      ),
    (tr, e) => {
      const url = tr.querySelector(".url");
      setText(url, e.url);
      url.title = `${e.id}${e.description ? `\n${e.description}` : ""}${e.health.lastError ? `\nlast error: ${e.health.lastError}` : ""}`;
      const health = endpointHealth(e);
      const badge = tr.querySelector(".health");
      badge.dataset.health = health.kind;
      setText(badge, health.label);
      setText(tr.querySelector(".ok-at"), ago(e.health.lastSuccessAt, now));
      setText(tr.querySelector(".streak"), int(e.health.failingStreak));
      setText(tr.querySelector(".backlog"), int(e.health.pendingDeliveries));
    },
  );
  byId("webhooks-empty").hidden = endpoints.length > 0;
  const failing = endpoints.filter((e) => endpointHealth(e).kind === "failing").length;
  setText(byId("webhooks-summary"), endpoints.length ? `· ${endpoints.length} endpoints${failing ? `, ${failing} failing` : ""}` : "");
  syncRows(
    byId("webhook-attempts-table").tBodies[0],
    attempts,
    (a) => `${a.endpointId}:${a.eventId}:${a.attempt}`,
    () =>
      h(
        "tr",
        {},
        h("td", {}, h("code", { class: "event" })),
        h("td", {}, h("code", { class: "endpoint muted" })),
        h("td", {}, h("span", { class: "badge attempt-status" })),
        h("td", { class: "num http" }),
        h("td", { class: "num took" }),
        h("td", { class: "num at" }),
      ),
    (tr, a) => {
      setText(tr.querySelector(".event"), `${a.eventId} #${a.attempt}`);
      const endpoint = tr.querySelector(".endpoint");
      setText(endpoint, shortId(a.endpointId));
      endpoint.title = a.url;
      const status = tr.querySelector(".attempt-status");
      status.dataset.health =
        a.status === "delivered" ? "healthy" : a.status === "abandoned" || a.status === "refused" ? "failing" : "retrying";
      setText(status, a.status);
      status.title = a.error ?? "";
      setText(tr.querySelector(".http"), a.httpStatus ?? "—");
      setText(tr.querySelector(".took"), `${int(a.durationMs)} ms`);
      setText(tr.querySelector(".at"), ago(a.at, now));
    },
  );
  byId("webhook-attempts-empty").hidden = attempts.length > 0;
}

export const webhooksPanel = {
  name: "webhooks",
  path: "/v1/webhook-endpoints",
  load: () => loadWebhooks(get),
  render: (data) => renderWebhooks(data, serverNow()),
  // A new session (another key): forget what the last one showed.
  reset: () => renderWebhooks({ endpoints: [], attempts: [] }, serverNow()),
};
