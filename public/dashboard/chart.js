// A hand-drawn SVG bar chart of one daily series: no library, nothing inline
// but SVG attributes, so it works under the page's strict CSP.

import { s } from "./dom.js";

const W = 360;
const H = 156;
const M = { top: 10, right: 6, bottom: 22, left: 46 };

/** The smallest of 1, 2, 2.5, 5 × 10^k at or above `x`. */
export function niceCeil(x) {
  if (!(x > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(x));
  const f = x / e;
  const n = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return n * e;
}

/**
 * days: [{ day: "YYYY-MM-DD", value }], oldest first.
 * format: the value as a tooltip shows it; axisFormat: as the y axis shows it.
 * integer: counts (no half ticks).
 */
export function barChart({ title, days, format, axisFormat = format, integer = false, seriesClass = "" }) {
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const max = Math.max(0, ...days.map((d) => d.value));
  const yMax = Math.max(integer ? 1 : 0, niceCeil(max));
  const y = (v) => M.top + plotH - (v / yMax) * plotH;
  const band = plotW / Math.max(1, days.length);
  const barW = Math.max(1, Math.min(28, band * 0.72));
  const total = days.reduce((sum, d) => sum + d.value, 0);
  const peak = days.reduce((best, d) => (best === null || d.value > best.value ? d : best), null);

  const svg = s("svg", {
    class: `chart ${seriesClass}`,
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label":
      peak && max > 0
        ? `${title}: ${format(total)} over ${days.length} days; highest ${format(peak.value)} on ${peak.day}`
        : `${title}: none in the last ${days.length} days`,
  });

  const ticks = [0, yMax / 2, yMax].filter((t) => !integer || Number.isInteger(t));
  for (const t of ticks) {
    svg.append(
      s("line", { class: t === 0 ? "axis" : "gridline", x1: M.left, x2: W - M.right, y1: y(t), y2: y(t) }),
      s("text", { class: "tick", x: M.left - 6, y: y(t), "text-anchor": "end", "dominant-baseline": "middle", text: axisFormat(t) }),
    );
  }

  const bars = s("g", { class: "bars" });
  days.forEach((d, i) => {
    const x0 = M.left + i * band;
    const tip = `${d.day}: ${format(d.value)}`;
    const col = s("g", { class: "bar", dataset: { day: d.day, value: String(d.value) } }, s("title", { text: tip }));
    // The whole column is the hover target, so even a zero or one-pixel bar has a tooltip.
    col.append(s("rect", { class: "hit", x: x0, y: M.top, width: band, height: plotH }));
    if (d.value > 0) {
      const top = y(d.value);
      col.append(
        s("rect", {
          class: "fill",
          x: x0 + (band - barW) / 2,
          y: top,
          width: barW,
          height: Math.max(1, M.top + plotH - top),
          rx: Math.min(2, barW / 3),
        }),
      );
    }
    bars.append(col);
  });
  svg.append(bars);

  const labelAt =
    days.length <= 1 ? [0] : days.length < 7 ? days.map((_, i) => i) : [0, Math.floor((days.length - 1) / 2), days.length - 1];
  for (const i of labelAt) {
    const anchor = days.length >= 7 ? (i === 0 ? "start" : i === days.length - 1 ? "end" : "middle") : "middle";
    const x = anchor === "start" ? M.left + i * band : anchor === "end" ? M.left + (i + 1) * band : M.left + (i + 0.5) * band;
    svg.append(s("text", { class: "tick", x, y: H - 6, "text-anchor": anchor, text: days[i].day.slice(5) }));
  }

  if (max === 0) {
    svg.append(
      s("text", {
        class: "empty",
        x: M.left + plotW / 2,
        y: M.top + plotH / 2,
        "text-anchor": "middle",
        "dominant-baseline": "middle",
        text: "None in this range",
      }),
    );
  }
  return svg;
}
