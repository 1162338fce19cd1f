import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { GENERATED_TYPES_PATH, generateClientTypes } from "../../clients/typescript/scripts/generate.js";

/**
 * The committed client types are exactly what the current OpenAPI document
 * generates: change a zod schema or an operation without `npm run
 * client:generate` and this fails, under `npm test` as in CI.
 */
describe("clients/typescript/src/generated/openapi.d.ts", () => {
  it("when the types are generated from the current document, then they equal the committed file", async () => {
    const committed = fs.readFileSync(GENERATED_TYPES_PATH, "utf8");
    const generated = await generateClientTypes();
    expect(generated.length).toBeGreaterThan(10_000);
    // A diff of the first differing line says what moved (the whole file would drown it).
    const a = committed.split("\n");
    const b = generated.split("\n");
    const i = b.findIndex((line, n) => line !== a[n]);
    expect(i === -1 && a.length === b.length, `stale at line ${i + 1}: run \`npm run client:generate\`\n- ${a[i]}\n+ ${b[i]}`).toBe(true);
  });

  it("when the committed file differs, then `npm run client:check` fails and says how to fix it", async () => {
    const run = promisify(execFile);
    const tsx = path.resolve("node_modules/.bin/tsx");
    const script = path.resolve("clients/typescript/scripts/generate.ts");
    // The script's own check against a copy with one changed line: its exit code and message.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "olc-stale-"));
    try {
      const stale = path.join(dir, "openapi.d.ts");
      fs.writeFileSync(stale, fs.readFileSync(GENERATED_TYPES_PATH, "utf8").replace('"out_of_stock"', '"sold_out"'));
      const failed = await run(tsx, [script, "--check"], { env: { ...process.env, ORDERLOCK_CLIENT_TYPES: stale } }).then(
        () => "passed",
        (e: { code: number; stderr: string }) => `${e.code} ${e.stderr}`,
      );
      expect(failed).toMatch(/^1 .*is stale: run `npm run client:generate`/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
