/** Who is making a request, as established from its API key. */
export type Caller = { kind: "admin" } | { kind: "customer"; customerId: string };

/** Idempotency keys and rate limits are scoped to this string. */
export function callerScope(caller: Caller): string {
  return caller.kind === "admin" ? "admin" : caller.customerId;
}

/** Customers see only their own rows; the admin sees all (undefined = no filter). */
export function ownerFilter(caller: Caller): string | undefined {
  return caller.kind === "customer" ? caller.customerId : undefined;
}
