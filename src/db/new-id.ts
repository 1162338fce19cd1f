import { randomFillSync } from "node:crypto";

/**
 * The id of a new row that is inserted on every request (orders, payments):
 * a UUID version 7 (RFC 9562): 48 bits of Unix time in milliseconds, then
 * 74 random bits. Ids made one after another sort one after another, so a
 * new row's primary-key entry (and the entries of every index that starts
 * with it: order lines, events by resource) lands at the end of the index,
 * in pages already in memory. A version-4 id lands on a random page of an
 * index that, at millions of rows, no longer fits in shared buffers: each
 * insert then reads a page and logs it whole after every checkpoint
 * (docs/performance.md, "Growth"). The random bits keep ids unguessable;
 * what an id tells about its row is its creation time, which the row shows
 * anyway to whoever may read it.
 */
const POOL_IDS = 256;
const pool = new Uint8Array(16 * POOL_IDS);
let next = POOL_IDS;
const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function newId(now = Date.now()): string {
  if (next === POOL_IDS) {
    randomFillSync(pool);
    next = 0;
  }
  const b = pool.subarray(16 * next, 16 * next + 16);
  next += 1;
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = 0x70 | (b[6] & 0x0f); // version 7
  b[8] = 0x80 | (b[8] & 0x3f); // variant 10
  const h = (i: number) => hex[b[i]];
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}
