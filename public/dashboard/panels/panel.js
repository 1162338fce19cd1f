// What every panel shares: its <section id="<name>-panel"> and the problem
// line that says why it shows old data or none. A panel module exports an
// object { name, path, load(), render(data), reset(), every? } that main.js
// polls; `path` is the endpoint named when it fails.

import { ApiError, NetworkError } from "../api.js";
import { byId, setText } from "../dom.js";

export const panelElement = (name) => byId(`${name}-panel`);

/** A 404 from a collection route means the route does not exist on this server (yet). */
export const notAvailable = (err) => err instanceof ApiError && err.status === 404;

export function setPanelProblem(name, err, path) {
  const p = panelElement(name);
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
