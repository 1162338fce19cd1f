import { Column, Entity, PrimaryColumn } from "typeorm";

/** Dedupe key: one row per payment that has moved the purchase counters. */
@Entity({ name: "counted_payments" })
export class CountedPayment {
  @PrimaryColumn({ name: "payment_id", type: "uuid" }) paymentId: string;
  @Column({ type: "date" }) day: string;
  @Column({ name: "customer_id", type: "uuid" }) customerId: string;
  @Column({ name: "amount_cents", type: "bigint" }) amountCents: number;
  @Column({ name: "counted_at", type: "timestamptz" }) countedAt: Date;
}
