// The two operator actions: restock (a relative, idempotent stock adjustment)
// and a versioned edit of name and price that shows a stale edit's conflict
// and lets the operator re-apply their change on the current version or drop it.

import { ApiError, NetworkError, newIdempotencyKey, request } from "./api.js";
import { byId, setText } from "./dom.js";
import { centsToInput, currencyCode, inputToCents, int, money } from "./format.js";

let hooks = { onProductChanged: () => {}, onError: () => false, toast: () => {} };

const skuPath = (sku) => `/v1/products/${encodeURIComponent(sku)}`;

function showProblem(el, err, ifNoAnswer = "") {
  el.hidden = false;
  if (err instanceof NetworkError) setText(el, `No answer from the service. ${ifNoAnswer}`.trim());
  else if (err instanceof ApiError) setText(el, `${err.display}${err.code ? ` (${err.status} ${err.code})` : ` (${err.status})`}`);
  else setText(el, err instanceof Error ? err.message : String(err));
}

function hideProblem(el) {
  el.hidden = true;
  el.textContent = "";
}

function setBusy(button, busy, busyText) {
  if (busy) {
    button.dataset.label = button.textContent;
    button.textContent = busyText;
  } else if (button.dataset.label) {
    button.textContent = button.dataset.label;
  }
  button.disabled = busy;
  button.setAttribute("aria-busy", String(busy));
}

// ---- Restock ---------------------------------------------------------------

const restockUi = {
  dialog: byId("restock-dialog"),
  form: byId("restock-form"),
  sku: byId("restock-sku"),
  current: byId("restock-current"),
  delta: byId("restock-delta"),
  reason: byId("restock-reason"),
  preview: byId("restock-preview"),
  problem: byId("restock-problem"),
  submit: byId("restock-submit"),
};

/**
 * One Idempotency-Key per distinct request body, made on first submit: a
 * double click, or a resubmit after a lost response, sends the same key and
 * so restocks once; a changed amount or reason is a new request with a new key.
 */
let restock = null; // { product, key, sentBody, busy }

export function openRestock(product) {
  restock = { product, key: null, sentBody: null, busy: false };
  setText(restockUi.sku, product.sku);
  setText(
    restockUi.current,
    `${product.name} · on hand ${int(product.onHand)}, reserved ${int(product.reserved)}, available ${int(product.available)}`,
  );
  restockUi.delta.value = "";
  restockUi.reason.value = "Restock";
  updateRestockPreview();
  hideProblem(restockUi.problem);
  setBusy(restockUi.submit, false);
  restockUi.dialog.showModal();
  restockUi.delta.focus();
}

function updateRestockPreview() {
  if (!restock) return;
  const delta = Number(restockUi.delta.value);
  if (restockUi.delta.value.trim() === "" || !Number.isInteger(delta) || delta === 0) {
    setText(restockUi.preview, "A negative number removes stock (a count correction).");
  } else {
    setText(restockUi.preview, `On hand after: ${int(restock.product.onHand + delta)} (now ${int(restock.product.onHand)}).`);
  }
}

async function submitRestock(event) {
  event.preventDefault();
  if (!restock || restock.busy) return;
  const delta = Number(restockUi.delta.value);
  const reason = restockUi.reason.value.trim();
  if (restockUi.delta.value.trim() === "" || !Number.isInteger(delta) || delta === 0) {
    showProblem(restockUi.problem, new Error("Enter a whole number of units other than 0."));
    return;
  }
  if (!reason) {
    showProblem(restockUi.problem, new Error("Give a reason: it is recorded with the adjustment."));
    return;
  }
  const body = { delta, reason };
  const bodyJson = JSON.stringify(body);
  if (bodyJson !== restock.sentBody) {
    restock.key = newIdempotencyKey();
    restock.sentBody = bodyJson;
  }
  const current = restock;
  current.busy = true;
  setBusy(restockUi.submit, true, "Restocking…");
  hideProblem(restockUi.problem);
  try {
    const { data, headers } = await request(`${skuPath(current.product.sku)}/stock-adjustments`, {
      method: "POST",
      body,
      headers: { "Idempotency-Key": current.key },
    });
    if (restock === current) restockUi.dialog.close();
    hooks.onProductChanged(data);
    const replayed = headers.get("Idempotent-Replayed") === "true" ? " (already applied; replayed)" : "";
    hooks.toast(`${data.sku}: on hand ${int(current.product.onHand)} → ${int(data.onHand)}${replayed}`, "ok");
  } catch (err) {
    if (!hooks.onError(err)) {
      showProblem(
        restockUi.problem,
        err,
        "The restock may or may not have been applied; submitting again is safe: it reuses the same Idempotency-Key.",
      );
    }
  } finally {
    current.busy = false;
    setBusy(restockUi.submit, false);
  }
}

// ---- Edit ------------------------------------------------------------------

const editUi = {
  dialog: byId("edit-dialog"),
  form: byId("edit-form"),
  sku: byId("edit-sku"),
  base: byId("edit-base"),
  name: byId("edit-name"),
  price: byId("edit-price"),
  currency: byId("edit-currency"),
  problem: byId("edit-problem"),
  actions: byId("edit-actions"),
  submit: byId("edit-submit"),
  conflict: byId("edit-conflict"),
  conflictDetail: byId("edit-conflict-detail"),
  retry: byId("edit-retry"),
  discard: byId("edit-discard"),
};

/** base: the product as the operator saw it; changes: what they changed; current: the server's, after a 409. */
let edit = null; // { base, changes, sentVersion, current, busy }

export function openEdit(product) {
  edit = { base: product, changes: null, sentVersion: product.version, current: null, busy: false };
  setText(editUi.sku, product.sku);
  setText(
    editUi.base,
    `Editing version ${product.version}. Someone else's change in the meantime is never overwritten: you get to choose.`,
  );
  setText(editUi.currency, currencyCode());
  editUi.name.value = product.name;
  editUi.price.value = centsToInput(product.priceCents);
  showConflict(false);
  hideProblem(editUi.problem);
  setBusy(editUi.submit, false);
  editUi.dialog.showModal();
  editUi.name.focus();
}

function showConflict(shown) {
  editUi.conflict.hidden = !shown;
  editUi.actions.hidden = shown;
  editUi.name.readOnly = shown;
  editUi.price.readOnly = shown;
}

async function save(version) {
  const current = edit;
  current.busy = true;
  current.sentVersion = version;
  const button = current.current ? editUi.retry : editUi.submit;
  setBusy(button, true, "Saving…");
  hideProblem(editUi.problem);
  try {
    const { data } = await request(skuPath(current.base.sku), {
      method: "PATCH",
      body: current.changes,
      headers: { "If-Match": `"${version}"` },
    });
    if (edit === current) editUi.dialog.close();
    hooks.onProductChanged(data);
    hooks.toast(`${data.sku} saved: ${data.name}, ${money(data.priceCents)} (version ${data.version})`, "ok");
  } catch (err) {
    if (err instanceof ApiError && err.code === "version_conflict" && err.problem.current) {
      current.current = err.problem.current;
      renderConflict(current);
      hooks.onProductChanged(err.problem.current);
    } else if (!hooks.onError(err)) {
      showProblem(editUi.problem, err, "Saving again is safe: it only applies to the version you edited.");
    }
  } finally {
    current.busy = false;
    setBusy(button, false);
  }
}

function renderConflict(e) {
  const now = e.current;
  setText(
    editUi.conflictDetail,
    `Your edit was based on version ${e.sentVersion}; someone has saved version ${now.version} since. ` +
      `Apply your change on top of version ${now.version}, or discard it and keep the current values.`,
  );
  const mine = { name: e.changes.name, price: e.changes.priceCents };
  const theirs = { name: now.name, price: now.priceCents };
  const base = { name: e.base.name, price: e.base.priceCents };
  for (const field of ["name", "price"]) {
    const fmt = field === "price" ? money : String;
    setText(byId(`conflict-mine-${field}`), mine[field] === undefined ? "(unchanged)" : fmt(mine[field]));
    setText(byId(`conflict-current-${field}`), fmt(theirs[field]));
    const row = editUi.conflict.querySelector(`tr[data-field="${field}"]`);
    row.classList.toggle("changed-elsewhere", theirs[field] !== base[field]);
    row.classList.toggle("changed-by-me", mine[field] !== undefined);
  }
  setText(editUi.retry, `Apply my edit to version ${now.version}`);
  showConflict(true);
  editUi.retry.focus();
}

function submitEdit(event) {
  event.preventDefault();
  if (!edit || edit.busy) return;
  const name = editUi.name.value.trim();
  const priceCents = inputToCents(editUi.price.value);
  if (!name) return showProblem(editUi.problem, new Error("The name must not be empty."));
  if (priceCents === null) return showProblem(editUi.problem, new Error(`Enter a price such as ${centsToInput(1999)}.`));
  const changes = {};
  if (name !== edit.base.name) changes.name = name;
  if (priceCents !== edit.base.priceCents) changes.priceCents = priceCents;
  if (Object.keys(changes).length === 0)
    return showProblem(editUi.problem, new Error("Nothing to save: the name and price are unchanged."));
  edit.changes = changes;
  void save(edit.base.version);
}

function retryEdit() {
  if (!edit || edit.busy || !edit.current) return;
  void save(edit.current.version);
}

function discardEdit() {
  if (!edit) return;
  const sku = edit.base.sku;
  editUi.dialog.close();
  hooks.toast(`Discarded your edit of ${sku}; it keeps the current values.`, "info");
}

// ---- Wiring ----------------------------------------------------------------

/**
 * onProductChanged(product): a fresh representation to show at once.
 * onError(err): true if handled globally (a 401 signs out); otherwise the dialog shows it.
 */
export function setupActions(h) {
  hooks = { ...hooks, ...h };
  restockUi.form.addEventListener("submit", submitRestock);
  restockUi.delta.addEventListener("input", updateRestockPreview);
  editUi.form.addEventListener("submit", submitEdit);
  editUi.retry.addEventListener("click", retryEdit);
  editUi.discard.addEventListener("click", discardEdit);
  for (const dialog of [restockUi.dialog, editUi.dialog]) {
    for (const b of dialog.querySelectorAll("[data-close]")) b.addEventListener("click", () => dialog.close());
  }
  restockUi.dialog.addEventListener("close", () => (restock = null));
  editUi.dialog.addEventListener("close", () => (edit = null));
}

export function closeDialogs() {
  if (restockUi.dialog.open) restockUi.dialog.close();
  if (editUi.dialog.open) editUi.dialog.close();
}
