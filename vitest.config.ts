import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

/**
 * Files whose assertions wait on the events feed's horizon: the feed, the
 * webhook relay (which follows it) and event retention (which keeps what an
 * endpoint's cursor, set at the horizon, has not passed). The horizon waits
 * for every older transaction on the whole server, other files' databases
 * included, so these run after the rest, one at a time.
 */
const FEED_READERS = [
  "test/events/events-feed.test.ts",
  "test/events/purge-old-events.test.ts",
  "test/events/webhook-delivery.test.ts",
  "test/events/webhook-delivery.crash.test.ts",
  "test/events/redeliver-in-flight.test.ts",
  "test/events/webhook-endpoints.test.ts",
  "test/refunds/refunds.test.ts",
  "test/bench/preload.test.ts",
];

export default defineConfig({
  // TypeORM entities use legacy decorators with emitted metadata.
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } } as never,
  test: {
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    projects: [
      {
        extends: true,
        test: {
          name: "main",
          include: ["test/**/*.test.ts"],
          exclude: FEED_READERS,
          // Vitest's default is one worker fewer than the CPUs: one on a 2-CPU machine, where a file's
          // start (fork, transform, its own database) then leaves the CPUs idle for ~2 s between files.
          maxWorkers: Math.max(2, availableParallelism() - 1),
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: "feed", include: FEED_READERS, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
