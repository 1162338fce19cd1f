/**
 * Whether this process is draining: SIGTERM has arrived and it is about to
 * stop. Process-wide, set once by main.ts. While draining, /readyz answers
 * 503 (a load balancer's health check takes the instance out of rotation)
 * and every response carries `Connection: close` (keep-alive clients and the
 * balancer open their next connection elsewhere), while requests still
 * arriving are served normally until the drain delay is over.
 */
let draining = false;

export function startDraining(): void {
  draining = true;
}

export function isDraining(): boolean {
  return draining;
}
