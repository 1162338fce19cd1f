import { describe, expect, it } from "vitest";
import { judgeMemory, soakChunkSeconds } from "../../bench/soak.js";

/**
 * The soak's memory verdict (`npm run bench -- --soak=<s>`): a leak lifts the
 * whole later curve, so it must be reported; the sawtooth of a healthy
 * process (GC, allocator arenas) must not be.
 */
describe("soak memory verdict", () => {
  it("calls a steadily rising RSS growth", () => {
    const leaking = [130, 140, 150, 160, 170, 180, 190, 200, 210];
    expect(judgeMemory(leaking)).toEqual({ firstThirdMaxRssMiB: 150, lastThirdMinRssMiB: 190, flat: false });
  });

  it("calls a sawtooth around a level flat, even with a peak late in the run", () => {
    const sawtooth = [128, 150, 131, 149, 127, 152, 130, 161, 129];
    expect(judgeMemory(sawtooth).flat).toBe(true);
  });

  it("skips unreadable samples and refuses to judge fewer than three", () => {
    expect(judgeMemory([120, undefined, 121, 122]).flat).toBe(true);
    expect(() => judgeMemory([120, undefined, 121])).toThrow(/only 2 times/);
  });

  it("cuts soaks of 30 s and more into six or more chunks of 5–30 s", () => {
    expect(soakChunkSeconds(10)).toBe(5);
    expect(soakChunkSeconds(30)).toBe(5);
    expect(soakChunkSeconds(179)).toBe(29);
    expect(soakChunkSeconds(120)).toBe(20);
    expect(soakChunkSeconds(1800)).toBe(30);
  });
});
