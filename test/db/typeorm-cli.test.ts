import { execFile } from "node:child_process";
import { promisify, stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";
import { migrations } from "../../migrations/index.js";
import { createTestDatabase } from "../support/test-database.js";

// The TypeORM CLI runs from a checkout with the project's own devDependencies
// (tsx loads ormconfig.ts): `npm run typeorm -- migration:show`.
describe("npm run typeorm", () => {
  it("when migration:show runs against a migrated database, then it lists every migration as applied", async () => {
    const db = await createTestDatabase();
    try {
      const { stdout } = await promisify(execFile)("npm", ["run", "--silent", "typeorm", "--", "migration:show"], {
        env: { ...process.env, DATABASE_URL: db.url, NO_COLOR: "1", FORCE_COLOR: "0" },
        timeout: 60_000,
      });
      // (Without colour codes: some CI environments make the CLI colour its output anyway.)
      const lines = stripVTControlCharacters(stdout).split("\n");
      const applied = lines.filter((l) => l.startsWith("[X]"));
      expect(
        applied.map((l) => l.replace(/^\[X\] \d+ /, "").trim()),
        stdout,
      ).toEqual(migrations.map((m) => m.name));
    } finally {
      await db.drop();
    }
  });
});
