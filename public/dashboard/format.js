// Formatting for the dashboard: money in minor units, counts, UTC days and times, ages and countdowns.

let currency = "USD";
let moneyFormat = new Intl.NumberFormat("en-US", { style: "currency", currency });
let compactMoneyFormat = new Intl.NumberFormat("en-US", { style: "currency", currency, notation: "compact" });
let minorDigits = 2;
const intFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const rateFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1, minimumFractionDigits: 1 });

/** The deployment's currency (one per deployment); decides how minor units are shown. */
export function setCurrency(code) {
  try {
    moneyFormat = new Intl.NumberFormat("en-US", { style: "currency", currency: code });
    compactMoneyFormat = new Intl.NumberFormat("en-US", { style: "currency", currency: code, notation: "compact" });
    minorDigits = moneyFormat.resolvedOptions().maximumFractionDigits ?? 2;
    currency = code;
  } catch {
    // An unknown code keeps the default rather than breaking every panel.
  }
}

export const currencyCode = () => currency;

export const money = (cents) => moneyFormat.format(cents / 10 ** minorDigits);
export const compactMoney = (cents) => compactMoneyFormat.format(cents / 10 ** minorDigits);
export const int = (n) => intFormat.format(n);
export const perMinute = (r) => `${r >= 0 ? "+" : ""}${rateFormat.format(r)}/min`;

/** Minor units as the plain decimal an input shows: 1999 → "19.99". */
export function centsToInput(cents) {
  if (minorDigits === 0) return String(cents);
  const s = String(Math.abs(cents)).padStart(minorDigits + 1, "0");
  return `${cents < 0 ? "-" : ""}${s.slice(0, -minorDigits)}.${s.slice(-minorDigits)}`;
}

/** "19.99" → 1999; "19.9" → 1990; "19" → 1900. Not a price (or too many decimals): null. */
export function inputToCents(text) {
  const m = /^\s*(\d{1,9})(?:[.,](\d*))?\s*$/.exec(text);
  if (!m) return null;
  const frac = m[2] ?? "";
  if (frac.length > minorDigits) return null;
  return Number(m[1]) * 10 ** minorDigits + Number(frac.padEnd(minorDigits, "0") || "0");
}

/** YYYY-MM-DD of the UTC day of `ms`, plus `offsetDays`. */
export function utcDay(ms, offsetDays = 0) {
  return new Date(ms + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

/** "14:02:03 UTC". */
export const utcTime = (ms) => `${new Date(ms).toISOString().slice(11, 19)} UTC`;

/** A span as people say it: "45s", "3m", "2h 5m", "3d 4h". */
export function span(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** A countdown clock: "14:05", "1:02:03". */
export function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** The first 8 characters of a UUID: enough to tell orders apart on one screen. */
export const shortId = (id) => String(id).slice(0, 8);
