import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { chooseLogFormat } from "../../src/logger.js";

/**
 * LOG_FORMAT and the terminal decide how logs look; pino-pretty is loaded
 * only when they ask for pretty lines. The logger runs in a child process
 * from the production build (as the service does), so what is loaded is
 * that process's alone.
 */
const LOGGER = path.resolve("dist/src/logger.js");

function logOneLine(format: "json" | "pretty"): { stdout: string; loaded: string[] } {
  if (!fs.existsSync(LOGGER)) throw new Error("dist/src/logger.js is missing: run `npm run build` (npm test does)");
  const script = `
    import { createRequire } from "node:module";
    const { createLogger } = await import(${JSON.stringify(pathToFileURL(LOGGER).href)});
    const logger = await createLogger("info", ${JSON.stringify(format)});
    logger.info({ orderId: "ord_1" }, "order placed");
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((file) => file.includes("pino-pretty"));
    process.stderr.write(JSON.stringify(loaded));
  `;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 20_000 });
  if (child.status !== 0) throw new Error(`logger child failed (${child.status}): ${child.stderr}`);
  return { stdout: child.stdout, loaded: JSON.parse(child.stderr) as string[] };
}

describe("log format", () => {
  it("when LOG_FORMAT is unset, then a terminal gets pretty lines and anything else JSON; when set, it wins", () => {
    expect(chooseLogFormat(undefined, true)).toBe("pretty");
    expect(chooseLogFormat(undefined, false)).toBe("json");
    expect(chooseLogFormat("json", true)).toBe("json");
    expect(chooseLogFormat("pretty", false)).toBe("pretty");
  });

  it("when LOG_FORMAT is neither json nor pretty, then the service refuses to start and names the variable", () => {
    expect(loadConfig({ LOG_FORMAT: "pretty" }).logFormat).toBe("pretty");
    expect(loadConfig({}).logFormat).toBeUndefined();
    expect(() => loadConfig({ LOG_FORMAT: "yaml" })).toThrow(/LOG_FORMAT/);
  });

  it("when the format is json, then each line is one JSON object and pino-pretty is never loaded", () => {
    const { stdout, loaded } = logOneLine("json");
    const line = JSON.parse(stdout.trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, msg: "order placed", orderId: "ord_1", service: "orderlock" });
    expect(loaded).toEqual([]);
  });

  it("when the format is pretty, then the line is for people (level name, message, fields), not JSON", () => {
    const { stdout, loaded } = logOneLine("pretty");
    expect(stdout).toMatch(/INFO.*order placed/);
    expect(stdout).toMatch(/orderId: "ord_1"/);
    expect(() => JSON.parse(stdout.trim())).toThrow();
    expect(loaded.length).toBeGreaterThan(0); // the check above can see pino-pretty when it is there
  });
});
