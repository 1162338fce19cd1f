// Purchases, revenue and unique customers per UTC day: three KPIs and three
// bar charts over 7, 30 or 90 days (the range is remembered in localStorage).

import { get, serverNow } from "../api.js";
import { barChart } from "../chart.js";
import { byId, setText } from "../dom.js";
import { compactMoney, int, money, utcDay } from "../format.js";
import { panelElement, setPanelProblem } from "./panel.js";

const RANGE_STORAGE = "orderlock.dashboard.rangeDays";
const CHART_IDS = ["chart-purchases", "chart-revenue", "chart-customers"];

const stored = Number(localStorage.getItem(RANGE_STORAGE));
let rangeDays = [7, 30, 90].includes(stored) ? stored : 30;
let lastChartKey = "";
let hooks = { onError: () => false };

function purchasesPath(days) {
  const now = serverNow();
  return `/v1/metrics/purchases?from=${utcDay(now, -(days - 1))}&to=${utcDay(now)}`;
}

async function load() {
  const days = rangeDays;
  const { data } = await get(purchasesPath(days));
  return { rangeDays: days, report: data };
}

function render({ rangeDays: loadedDays, report }) {
  if (loadedDays !== rangeDays) return; // the range changed while this was loading
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
  const key = JSON.stringify([loadedDays, days]);
  if (key === lastChartKey) return; // unchanged: keep the SVG (and any open tooltip)
  lastChartKey = key;
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

function reset() {
  lastChartKey = "";
  for (const id of CHART_IDS) byId(id).replaceChildren();
}

export const purchasesPanel = { name: "purchases", path: "/v1/metrics/purchases", load, render, reset };

function setRange(days) {
  rangeDays = days;
  localStorage.setItem(RANGE_STORAGE, String(days));
  for (const b of panelElement("purchases").querySelectorAll("[data-range]"))
    b.setAttribute("aria-pressed", String(Number(b.dataset.range) === days));
  load().then(
    (r) => {
      render(r);
      setPanelProblem("purchases", null);
    },
    (err) => hooks.onError(err) || setPanelProblem("purchases", err, purchasesPanel.path),
  );
}

/** onError(err): true if handled globally (a 401 signs out). */
export function setupPurchases(h) {
  hooks = { ...hooks, ...h };
  for (const b of panelElement("purchases").querySelectorAll("[data-range]")) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.range) === rangeDays));
    b.addEventListener("click", () => setRange(Number(b.dataset.range)));
  }
}
