import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { createDataSource, type DbSettings } from "../../ormconfig.js";
import { replicaMetrics } from "../metrics/registry.js";
import { classifyError } from "./postgres-errors.js";

/**
 * Where reads that tolerate a few seconds of staleness go (today: purchase
 * metrics). DATABASE_REPLICA_URL serves them while a probe, once a second,
 * finds it answering with a lag under REPLICA_MAX_LAG_SECONDS; otherwise the
 * primary does.
 *
 * What must stay true:
 * - No read fails because the replica did: a read that fails on the replica
 *   for any reason but a bad request (connection lost, a recovery conflict
 *   cancelling it, a timeout) runs again on the primary.
 * - Only reads go here, and only reads that decide nothing: reconciliation,
 *   authentication, rate limits and everything before a write use the primary
 *   (rate_limits is UNLOGGED and not even on a standby).
 * - Lag is the age of the oldest change the standby received or should have
 *   received but not yet applied: 0 when everything received is replayed and
 *   the WAL receiver is connected (so an idle primary means 0, not the
 *   growing age of the last commit); else now() - the last replayed commit's
 *   time (Infinity if none replayed since the standby started). A server not
 *   in recovery (a promoted standby) has lag 0.
 * - The replica's pool is a TypeORM DataSource of its own (4 connections),
 *   initialised by the probe when the replica first answers: a replica down
 *   at start delays nothing, and the service never waits for it.
 */
export type ReadReplica = {
  /** Runs `read` on the replica while it is fresh, else (or when it fails there) on the primary. */
  read<T>(read: (db: DataSource) => Promise<T>): Promise<T>;
  /** The last probe's lag in seconds; undefined when no replica is configured or it did not answer. */
  lagSeconds(): number | undefined;
  close(): Promise<void>;
};

export type ReadReplicaOptions = {
  primary: DataSource;
  url: string | undefined;
  maxLagSeconds: number;
  db: DbSettings;
  logger: Logger;
  probeIntervalMs?: number;
};

const PROBE_TIMEOUT_MS = 2000;

const LAG_SQL = `
  SELECT CASE
           WHEN NOT pg_is_in_recovery() THEN 0
           WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN 0
           ELSE coalesce(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 'Infinity')
         END::float8 AS lag_seconds`;

/** No replica configured: every read on the primary. */
export function primaryOnly(primary: DataSource): ReadReplica {
  return {
    read(read) {
      replicaMetrics.reads.inc({ source: "primary" });
      return read(primary);
    },
    lagSeconds: () => undefined,
    close: async () => {},
  };
}

export function startReadReplica(options: ReadReplicaOptions): ReadReplica {
  const { primary, url, maxLagSeconds, logger } = options;
  const onPrimary = primaryOnly(primary).read;
  if (!url) return primaryOnly(primary);

  // Short waits: a replica that does not answer quickly is not worth waiting for.
  const replica = createDataSource(
    url,
    { ...options.db, poolSize: 4, connectTimeoutMs: Math.min(options.db.connectTimeoutMs, 1000) },
    (err) => logger.debug({ message: err.message }, "replica pool error"),
  );
  let lag: number | undefined;
  let usable = false;
  let initialising: Promise<unknown> | undefined;
  const setState = (next: { lag: number | undefined; usable: boolean }) => {
    if (next.usable !== usable)
      logger.info({ lag: next.lag, maxLagSeconds }, next.usable ? "replica serves reads" : "replica not used: reads go to the primary");
    lag = next.lag;
    usable = next.usable;
    replicaMetrics.lagSeconds.set(lag ?? Number.NaN);
    replicaMetrics.up.set(usable ? 1 : 0);
  };
  setState({ lag: undefined, usable: false });

  const probe = async () => {
    try {
      if (!replica.isInitialized) {
        initialising ??= replica.initialize().finally(() => (initialising = undefined));
        await initialising;
      }
      // A replica that hangs (no answer, no error) is marked unusable after 2 s, not after the query timeout.
      const rows = (await Promise.race([
        replica.query(LAG_SQL),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("replica probe timed out")), PROBE_TIMEOUT_MS).unref()),
      ])) as { lag_seconds: number }[];
      const measured = Number(rows[0].lag_seconds);
      setState({ lag: measured, usable: measured < maxLagSeconds });
    } catch (err) {
      if (usable) logger.warn({ message: (err as Error).message }, "replica probe failed");
      setState({ lag: undefined, usable: false });
    }
  };
  let probing: Promise<void> | undefined;
  const tick = () => {
    probing ??= probe().finally(() => (probing = undefined));
  };
  tick();
  const timer = setInterval(tick, options.probeIntervalMs ?? 1000);
  timer.unref();

  return {
    async read(read) {
      if (!usable || !replica.isInitialized) return onPrimary(read);
      try {
        const result = await read(replica);
        replicaMetrics.reads.inc({ source: "replica" });
        return result;
      } catch (err) {
        // Whatever failed (connection, a recovery conflict, a timeout, or the
        // query itself, which then fails on the primary too): the primary answers.
        logger.warn({ kind: classifyError(err), message: (err as Error).message }, "read failed on the replica; retried on the primary");
        return onPrimary(read);
      }
    },
    lagSeconds: () => lag,
    async close() {
      clearInterval(timer);
      await probing?.catch(() => {});
      await initialising?.catch(() => {});
      if (replica.isInitialized) await replica.destroy().catch(() => {});
    },
  };
}
