import { createHmac, randomBytes } from "node:crypto";
import autocannon from "autocannon";
import { readJsonStdin } from "./child-processes.js";
import { percentile } from "./latency.js";
import type { FlashTarget, LoadResult, LoadSpec, OrdersTarget, SaleTally, WebhooksTarget } from "./load-spec.js";

/**
 * The load generator, in a process of its own so that its CPU (building
 * requests, signing webhooks, parsing answers) is not charged to the bench or
 * the service. Reads a LoadSpec from stdin, runs autocannon, prints one
 * LoadResult line.
 *
 * Every request is built on the fly by setupRequest: a fresh Idempotency-Key
 * per order (a replayed key would measure the replay path instead), and a
 * fresh timestamp and signature per webhook (the service rejects signatures
 * older than 300 s).
 */
type Tally = Pick<LoadResult, "problems" | "created" | "outOfStock" | "webhookOutcomes"> & {
  exhausted: boolean;
  lastResponseAt: number;
  sale?: { statuses: Record<string, number>; firstSentAt?: number; selloutAt?: number; afterSellout: number[] };
};

function ordersRequest(target: OrdersTarget, tally: Tally): autocannon.Request {
  // Unique across runs and cells: a random tag per worker process plus a counter.
  const tag = randomBytes(6).toString("hex");
  let seq = 0;
  return {
    method: "POST",
    path: "/v1/orders",
    setupRequest: (req) => {
      const sku = target.skus[Math.floor(Math.random() * target.skus.length)];
      const key = target.customerKeys[Math.floor(Math.random() * target.customerKeys.length)];
      return {
        ...req,
        headers: { ...req.headers, Authorization: `Bearer ${key}`, "Idempotency-Key": `bench-${tag}-${seq++}` },
        body: JSON.stringify({ lines: [{ sku, quantity: 1 }] }),
      };
    },
    onResponse: (status, body) => {
      tally.lastResponseAt = performance.now();
      if (status === 201) tally.created++;
      else if (status === 409 && body.includes('"out_of_stock"')) tally.outOfStock++;
      if (status >= 300) countProblem(tally, status, body);
    },
  };
}

/**
 * The flash sale, as wrk's script does it (bench/wrk.ts): each request sends
 * its send time as X-Request-Id, which the service echoes, so each answer's
 * latency is known; the `units`-th 201 marks the sellout, and the latencies
 * of the answers other than 201 to requests sent after it are kept.
 */
function flashRequest(target: FlashTarget, tally: Tally): autocannon.Request {
  const tag = randomBytes(6).toString("hex");
  let seq = 0;
  const body = JSON.stringify({ lines: [{ sku: target.sku, quantity: 1 }] });
  const sale = {
    statuses: {} as Record<string, number>,
    firstSentAt: undefined as number | undefined,
    selloutAt: undefined as number | undefined,
    afterSellout: [] as number[],
  };
  tally.sale = sale;
  return {
    method: "POST",
    path: "/v1/orders",
    setupRequest: (req) => {
      const key = target.customerKeys[Math.floor(Math.random() * target.customerKeys.length)];
      const sent = performance.now();
      sale.firstSentAt ??= sent;
      return {
        ...req,
        headers: {
          ...req.headers,
          Authorization: `Bearer ${key}`,
          "Idempotency-Key": `bench-flash-${tag}-${seq++}`,
          "X-Request-Id": `t${Math.round(sent * 1000)}`,
        },
        body,
      };
    },
    onResponse: (status, body, _context, headers) => {
      const now = performance.now();
      tally.lastResponseAt = now;
      sale.statuses[status] = (sale.statuses[status] ?? 0) + 1;
      if (status === 201) {
        tally.created++;
        if (tally.created === target.units) sale.selloutAt = now;
      } else if (status === 409 && body.includes('"out_of_stock"')) tally.outOfStock++;
      if (status >= 300) countProblem(tally, status, body);
      const id = headers?.["X-Request-Id"] ?? headers?.["x-request-id"];
      const sent = typeof id === "string" ? Number(id.slice(1)) / 1000 : Number.NaN;
      if (status !== 201 && sale.selloutAt !== undefined && sent >= sale.selloutAt) sale.afterSellout.push(now - sent);
    },
  };
}

function saleOf(sale: NonNullable<Tally["sale"]>): SaleTally {
  const after = [...sale.afterSellout].sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return {
    selloutMs: sale.selloutAt === undefined || sale.firstSentAt === undefined ? null : round(sale.selloutAt - sale.firstSentAt),
    statuses: sale.statuses,
    afterSellout: {
      answers: after.length,
      p50Ms: round(percentile(after, 50)),
      p99Ms: round(percentile(after, 99)),
      maxMs: round(after.at(-1) ?? 0),
    },
  };
}

function webhooksRequest(target: WebhooksTarget, tally: Tally): autocannon.Request {
  // One shared cursor for all connections: each payment is confirmed once.
  // autocannon builds a request only right before sending it and never sends
  // more than maxOverallRequests (= the number of payments), so the cursor
  // cannot overrun; the fallback below is a guard, and shows up as duplicates.
  let next = 0;
  return {
    method: "POST",
    path: "/v1/webhooks/payments",
    setupRequest: (req) => {
      const payment = target.payments[next++] ?? target.payments[target.payments.length - 1];
      if (next >= target.payments.length) tally.exhausted = true;
      const body = JSON.stringify({
        id: `evt_bench_${payment.id}`,
        type: "payment.succeeded",
        data: { paymentId: payment.id, amountCents: payment.amountCents },
      });
      const t = Math.floor(Date.now() / 1000);
      const v1 = createHmac("sha256", target.webhookSecret).update(`${t}.${body}`).digest("hex");
      return { ...req, headers: { ...req.headers, "Payment-Signature": `t=${t},v1=${v1}` }, body };
    },
    onResponse: (status, body) => {
      tally.lastResponseAt = performance.now();
      if (status === 200) {
        const outcome = /"outcome"\s*:\s*"([a-z_]+)"/.exec(body)?.[1] ?? "unknown";
        tally.webhookOutcomes[outcome] = (tally.webhookOutcomes[outcome] ?? 0) + 1;
      }
      if (status >= 300) countProblem(tally, status, body);
    },
  };
}

function countProblem(tally: Tally, status: number, body: string): void {
  let code = "?";
  try {
    code = String((JSON.parse(body) as { code?: unknown }).code ?? "?");
  } catch {
    // not a problem+json body
  }
  const label = `${status} ${code}`;
  tally.problems[label] = (tally.problems[label] ?? 0) + 1;
}

async function main(): Promise<void> {
  const spec = await readJsonStdin<LoadSpec>();
  const tally: Tally = { problems: {}, created: 0, outOfStock: 0, webhookOutcomes: {}, exhausted: false, lastResponseAt: 0 };
  const target = spec.target;
  const request =
    target.kind === "orders"
      ? ordersRequest(target, tally)
      : target.kind === "flash"
        ? flashRequest(target, tally)
        : webhooksRequest(target, tally);

  const startedAt = performance.now();
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationSeconds,
    // Webhooks stop early once every prepared payment has been confirmed.
    ...(spec.target.kind === "webhooks" ? { maxOverallRequests: spec.target.payments.length } : {}),
    timeout: 10,
    headers: { "Content-Type": "application/json" },
    requests: [request],
  });

  const responses = result.requests.total;
  // autocannon notices that every client is done only at its next 1 s sample
  // tick, so an early end would count up to a second of idling: time it from
  // the last response instead.
  const durationSeconds = tally.exhausted && tally.lastResponseAt > startedAt ? (tally.lastResponseAt - startedAt) / 1000 : result.duration;
  const out: LoadResult = {
    responses,
    durationSeconds,
    requestsPerSecond: durationSeconds > 0 ? responses / durationSeconds : 0,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    latencyP999Ms: result.latency.p99_9,
    latencyMeanMs: result.latency.mean,
    latencyMaxMs: result.latency.max,
    non2xx: result.non2xx,
    timeouts: result.timeouts,
    connectionErrors: result.errors,
    problems: tally.problems,
    created: tally.created,
    outOfStock: tally.outOfStock,
    webhookOutcomes: tally.webhookOutcomes,
    exhausted: tally.exhausted,
    ...(tally.sale ? { sale: saleOf(tally.sale) } : {}),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`load worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
