// Reconciliation: the purchase counters against the succeeded payments they
// were counted from. It sums every succeeded payment, so it is read every
// 30 s rather than on every poll, and on demand with "Check now".

import { get, serverNow } from "../api.js";
import { byId, setText } from "../dom.js";
import { int, money, utcTime } from "../format.js";
import { setPanelProblem } from "./panel.js";

const RECONCILE_EVERY_MS = 30_000;

let hooks = { onError: () => false };

async function load() {
  return (await get("/v1/metrics/purchases/reconciliation")).data;
}

function render(r) {
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

export const reconciliationPanel = {
  name: "reconciliation",
  path: "/v1/metrics/purchases/reconciliation",
  load,
  render,
  reset: () => {},
  every: RECONCILE_EVERY_MS,
};

/** onError(err): true if handled globally (a 401 signs out). */
export function setupReconciliation(h) {
  hooks = { ...hooks, ...h };
  byId("reconcile-now").addEventListener("click", async () => {
    const p = reconciliationPanel;
    try {
      render(await load());
      p.lastAt = serverNow();
      setPanelProblem("reconciliation", null);
    } catch (err) {
      if (!hooks.onError(err)) setPanelProblem("reconciliation", err, p.path);
    }
  });
}
