import type { EntityManager } from "typeorm";
import { type Caller, ownerFilter } from "../auth/caller.js";
import { NotFoundError } from "../errors.js";
import { findPayment } from "./payment-store.js";
import { type PaymentView, renderPayment } from "./payment-view.js";

/** A payment as its customer (or the admin) sees it; anyone else gets 404, never a hint that it exists. */
export async function getPaymentOrThrow(m: EntityManager, caller: Caller, id: string): Promise<PaymentView> {
  const row = await findPayment(m, id, ownerFilter(caller));
  if (!row) throw new NotFoundError(`Payment ${id}`);
  return renderPayment(row);
}
