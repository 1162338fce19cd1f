import { Column, Entity, PrimaryColumn } from "typeorm";

/** Dedupe key: one row per refund that has taken its compensating counter entry. */
@Entity({ name: "counted_refunds" })
export class CountedRefund {
  @PrimaryColumn({ name: "refund_id", type: "uuid" }) refundId: string;
  @Column({ type: "date" }) day: string;
  @Column({ name: "amount_cents", type: "bigint" }) amountCents: number;
  @Column({ name: "counted_at", type: "timestamptz" }) countedAt: Date;
}
