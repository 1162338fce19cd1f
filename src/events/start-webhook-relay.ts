import type { DataSource } from "typeorm";
import { type RelaySettings, relayWebhooks } from "./relay-webhooks.js";

/**
 * Runs the relay on this instance: a tick every `intervalMs` while there is
 * nothing to deliver; after a tick that started deliveries, the next one as
 * soon as a slot is free (at once if one still is). Ticks never overlap; deliveries run
 * past their tick, at most `concurrency` at once; stop() waits for the tick
 * and the deliveries in progress (each bounded by the timeout). Every instance runs one; they share the work through the
 * database (relay-webhooks.ts). A failing tick is logged and tried again.
 */
export function startWebhookRelay(ds: DataSource, settings: RelaySettings & { intervalMs: number }) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const inFlight = new Set<Promise<void>>();
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      current = relayWebhooks(ds, settings, inFlight)
        .then(async (n) => {
          if (n === 0) return schedule(settings.intervalMs);
          // A backlog: tick again as soon as a slot is free, not a whole interval later.
          if (inFlight.size >= settings.concurrency) await Promise.race(inFlight);
          schedule(0);
        })
        .catch((err: unknown) => {
          settings.logger.warn({ err }, "webhook relay tick failed");
          schedule(settings.intervalMs);
        });
    }, ms);
  };
  schedule(settings.intervalMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current;
      await Promise.all([...inFlight]);
    },
  };
}
