/**
 * Test-only crash points, for proving that a SIGKILL at a given moment loses
 * nothing acknowledged. Inert unless ORDERLOCK_CRASH_AT names the point and
 * ORDERLOCK_CRASH_TOKEN matches the request's token (its Idempotency-Key or
 * webhook event id), so a test can kill the process at exactly one request.
 * Never set these in production.
 */
export function crashPoint(point: string, token: string | undefined): void {
  const at = process.env.ORDERLOCK_CRASH_AT;
  if (!at || at !== point || token === undefined || token !== process.env.ORDERLOCK_CRASH_TOKEN) return;
  process.kill(process.pid, "SIGKILL");
}
