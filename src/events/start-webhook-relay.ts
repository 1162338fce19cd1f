import type { DataSource } from "typeorm";
import { type RelaySettings, relayWebhooks } from "./relay-webhooks.js";

/**
 * Runs the relay on this instance: a tick every `intervalMs`, at once again
 * when a tick found a full batch. Ticks never overlap; stop() waits for the
 * one in progress. Every instance runs one; they share the work through the
 * database (relay-webhooks.ts). A failing tick is logged and tried again.
 */
export function startWebhookRelay(ds: DataSource, settings: RelaySettings & { intervalMs: number }) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      current = relayWebhooks(ds, settings)
        .then((n) => schedule(n >= settings.concurrency ? 0 : settings.intervalMs))
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
    },
  };
}
