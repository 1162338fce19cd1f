import pg from "pg";
import { readJsonStdin } from "./child-processes.js";
import { latencyPercentiles } from "./latency.js";
import { type RawResult, type RawRunSpec, toParameterised } from "./raw-sql.js";

/**
 * The raw-SQL driver for machines without pgbench: N `pg` clients, each
 * running the transaction back to back until the duration is up. Named
 * statements make them prepared once per connection, like `pgbench -M
 * prepared`. A failed transaction is rolled back, counted and the loop goes
 * on, as pgbench does with its failure count; the bench then reports it.
 */
async function main(): Promise<void> {
  const spec = await readJsonStdin<RawRunSpec>();
  const steps = spec.transaction.steps.map((step, i) => ({
    ...toParameterised(step.sql),
    gset: step.gset ?? false,
    name: `bench_raw_${i}`,
  }));
  const random = Object.entries(spec.transaction.random);

  const clients = await Promise.all(
    Array.from({ length: spec.clients }, async () => {
      const client = new pg.Client({ connectionString: spec.databaseUrl, application_name: "orderlock-bench-raw" });
      client.on("error", () => {});
      await client.connect();
      return client;
    }),
  );

  let transactions = 0;
  let failed = 0;
  let latencyTotalMs = 0;
  // Each client's first transaction left out, as from pgbench's log (where it includes connecting).
  const latenciesUs: number[] = [];
  const started = performance.now();
  const deadline = started + spec.durationSeconds * 1000;

  await Promise.all(
    clients.map(async (client) => {
      for (let n = 1; performance.now() < deadline; n++) {
        const vars: Record<string, unknown> = {};
        for (const [name, [min, max]] of random) vars[name] = min + Math.floor(Math.random() * (max - min + 1));
        const t0 = performance.now();
        try {
          for (const step of steps) {
            const values = step.names.map((n) => {
              if (!(n in vars)) throw new Error(`variable :${n} is not set before "${step.text}"`);
              return vars[n];
            });
            // BEGIN/COMMIT carry no parameters; preparing them gains nothing.
            const result =
              values.length > 0 || step.gset
                ? await client.query({ name: step.name, text: step.text, values })
                : await client.query(step.text);
            if (step.gset) {
              if (result.rowCount !== 1) throw new Error(`expected one row, got ${result.rowCount}: ${step.text}`);
              Object.assign(vars, result.rows[0]);
            }
          }
          transactions++;
          const ms = performance.now() - t0;
          latencyTotalMs += ms;
          if (n > 1) latenciesUs.push(ms * 1000);
        } catch (err) {
          failed++;
          await client.query("ROLLBACK").catch(() => {});
          if (failed === 1) process.stderr.write(`raw-sql worker: a transaction failed: ${(err as Error).message}\n`);
        }
      }
    }),
  );
  const elapsedSeconds = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.end().catch(() => {})));

  const result: RawResult = {
    driver: "node",
    clients: spec.clients,
    durationSeconds: spec.durationSeconds,
    transactions,
    failed,
    tps: transactions / elapsedSeconds,
    latencyAvgMs: transactions > 0 ? latencyTotalMs / transactions : undefined,
    latency: latencyPercentiles(latenciesUs),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`raw-sql worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
