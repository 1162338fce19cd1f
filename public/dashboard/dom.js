// Tiny DOM helpers. Text always goes in through textContent: nothing from the
// API is ever parsed as HTML (and the page's CSP allows no inline script anyway).

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el, attrs) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.setAttribute("class", v);
    else if (k === "text") el.textContent = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** h("td", { class: "num", text: "3" }) */
export const h = (tag, attrs, ...children) => append(apply(document.createElement(tag), attrs), children);

/** The same for SVG elements. */
export const s = (tag, attrs, ...children) => append(apply(document.createElementNS(SVG_NS, tag), attrs), children);

export const byId = (id) => document.getElementById(id);

/** Sets text only when it changed, so polling does not churn the DOM. */
export function setText(el, text) {
  const t = String(text);
  if (el.textContent !== t) el.textContent = t;
}

/**
 * Keyed update of a table body: rows stay the same elements across polls
 * (a click that lands while a poll re-renders still hits its button), new
 * keys get new rows, vanished keys are removed, and the order follows `items`.
 */
export function syncRows(tbody, items, keyOf, create, update) {
  const existing = new Map();
  for (const tr of tbody.children) existing.set(tr.dataset.key, tr);
  let cursor = tbody.firstElementChild;
  for (const item of items) {
    const key = keyOf(item);
    let tr = existing.get(key);
    if (tr) existing.delete(key);
    else {
      tr = create(item);
      tr.dataset.key = key;
    }
    update(tr, item);
    if (tr !== cursor) tbody.insertBefore(tr, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const tr of existing.values()) tr.remove();
}
