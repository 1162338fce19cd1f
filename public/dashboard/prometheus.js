// Reads the Prometheus text exposition format (version 0.0.4) that GET /metrics
// serves, and turns counter snapshots taken at each poll into per-minute rates.

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

function parseValue(text) {
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  const n = Number(text);
  return text !== "" && !Number.isNaN(n) ? n : undefined;
}

/** `{a="x",b="y\"z"}` starting at `i` → [labels, index after the closing brace]. */
function parseLabels(line, i) {
  const labels = {};
  i++; // "{"
  for (;;) {
    while (line[i] === " " || line[i] === ",") i++;
    if (line[i] === "}") return [labels, i + 1];
    const name = NAME.exec(line.slice(i));
    if (!name) throw new Error("label name expected");
    i += name[0].length;
    while (line[i] === " ") i++;
    if (line[i] !== "=") throw new Error("= expected");
    i++;
    while (line[i] === " ") i++;
    if (line[i] !== '"') throw new Error("quoted label value expected");
    i++;
    let value = "";
    for (;;) {
      const c = line[i];
      if (c === undefined) throw new Error("unterminated label value");
      if (c === '"') break;
      if (c === "\\") {
        const e = line[i + 1];
        value += e === "n" ? "\n" : e;
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    labels[name[0]] = value;
    i++; // closing quote
  }
}

/**
 * Parses the exposition text. Returns the declared metric families (from
 * `# TYPE` lines: a family can be declared and have no samples yet) and every
 * sample. Lines that cannot be read are skipped, not fatal.
 */
export function parsePrometheus(text) {
  const families = new Map();
  const samples = [];
  for (const raw of String(text).split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      const m = /^#\s+(TYPE|HELP)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(line);
      if (!m) continue;
      const family = families.get(m[2]) ?? { type: "untyped", help: "" };
      if (m[1] === "TYPE") family.type = (m[3] ?? "untyped").trim();
      else family.help = m[3] ?? "";
      families.set(m[2], family);
      continue;
    }
    try {
      const name = NAME.exec(line);
      if (!name) continue;
      let i = name[0].length;
      let labels = {};
      if (line[i] === "{") [labels, i] = parseLabels(line, i);
      const [valueText] = line.slice(i).trim().split(/\s+/);
      const value = parseValue(valueText);
      if (value !== undefined) samples.push({ name: name[0], labels, value });
    } catch {
      // a malformed line: skip it
    }
  }
  return { families, samples };
}

/**
 * The sum of a counter's samples whose labels match `where`. A family that is
 * declared but has no samples yet is 0; a family the server does not export at
 * all is null ("not available").
 */
export function counterTotal(parsed, name, where = {}) {
  const matching = parsed.samples.filter((x) => x.name === name && Object.entries(where).every(([k, v]) => x.labels[k] === v));
  // OpenMetrics declares a counter family without its _total suffix.
  if (matching.length === 0) return parsed.families.has(name) || parsed.families.has(name.replace(/_total$/, "")) ? 0 : null;
  return matching.reduce((sum, x) => sum + x.value, 0);
}

/** A counter summed by one label: { client: 3, internal: 1 }. */
export function counterBy(parsed, name, label) {
  const out = {};
  for (const x of parsed.samples) {
    if (x.name !== name) continue;
    const key = x.labels[label] ?? "";
    out[key] = (out[key] ?? 0) + x.value;
  }
  return out;
}

/**
 * Per-minute rates of counters between polls. Keeps the snapshots of the last
 * `windowMs` and measures each counter against the oldest one in that window,
 * so one event in a 5-second poll does not read as 12/min for a moment and 0
 * the next. A counter that went down was reset (the process restarted): its
 * whole current value counts as the increase, as Prometheus' rate() does.
 */
export class CounterRates {
  constructor(windowMs = 60_000) {
    this.windowMs = windowMs;
    this.history = [];
  }

  /** `values`: { id: number | null }. Returns { id: perMinute | null } (null: not measurable yet). */
  update(values, atMs) {
    this.history.push({ atMs, values });
    while (this.history.length > 2 && atMs - this.history[1].atMs >= this.windowMs) this.history.shift();
    const base = this.history[0];
    const rates = {};
    for (const [id, value] of Object.entries(values)) {
      const before = base.values[id];
      const minutes = (atMs - base.atMs) / 60_000;
      if (base === this.history[this.history.length - 1] || value === null || before === null || before === undefined || minutes <= 0) {
        rates[id] = null;
        continue;
      }
      const increase = value >= before ? value - before : value;
      rates[id] = increase / minutes;
    }
    return rates;
  }

  reset() {
    this.history = [];
  }
}
