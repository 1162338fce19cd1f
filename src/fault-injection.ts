/**
 * Test-only crash points, for proving that a SIGKILL at a given moment loses
 * nothing acknowledged. Inert unless ORDERLOCK_CRASH_AT names the point and
 * ORDERLOCK_CRASH_TOKEN matches the request's token (its Idempotency-Key or
 * webhook event id), so a test can kill the process at exactly one request.
 * Never set these in production.
 *
 * Read once at start-up (the crash tests set them in the environment of the
 * service they spawn): every process.env read is a getenv() call, and this
 * sits on the hot paths of every order and confirmation.
 */
const CRASH_AT = process.env.ORDERLOCK_CRASH_AT;
const CRASH_TOKEN = process.env.ORDERLOCK_CRASH_TOKEN;

export function crashPoint(point: string, token: string | undefined): void {
  if (!CRASH_AT || CRASH_AT !== point || token === undefined || token !== CRASH_TOKEN) return;
  process.kill(process.pid, "SIGKILL");
}
