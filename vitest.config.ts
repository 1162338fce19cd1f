import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

/** Files whose assertions read the events feed, which waits for every older transaction of the whole server. */
const FEED_READERS = ["test/events/events-feed.test.ts"];

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
        test: { name: "feed", include: FEED_READERS, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
