import { createHmac, randomBytes } from "node:crypto";
import autocannon from "autocannon";
import { readJsonStdin } from "./child-processes.js";
import type { LoadResult, LoadSpec, OrdersTarget, WebhooksTarget } from "./load-spec.js";

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
type Tally = Pick<LoadResult, "problems" | "created" | "outOfStock" | "webhookOutcomes"> & { exhausted: boolean; lastResponseAt: number };

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
  const request = spec.target.kind === "orders" ? ordersRequest(spec.target, tally) : webhooksRequest(spec.target, tally);

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
    latencyMeanMs: result.latency.mean,
    non2xx: result.non2xx,
    timeouts: result.timeouts,
    connectionErrors: result.errors,
    problems: tally.problems,
    created: tally.created,
    outOfStock: tally.outOfStock,
    webhookOutcomes: tally.webhookOutcomes,
    exhausted: tally.exhausted,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`load worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
