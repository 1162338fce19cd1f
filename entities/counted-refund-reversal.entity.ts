import { Column, Entity, PrimaryColumn } from "typeorm";

/** Dedupe key: one row per dispute refund whose counter entry has been reversed. */
@Entity({ name: "counted_refund_reversals" })
export class CountedRefundReversal {
  @PrimaryColumn({ name: "refund_id", type: "uuid" }) refundId: string;
  @Column({ type: "date" }) day: string;
  @Column({ name: "amount_cents", type: "bigint" }) amountCents: number;
  @Column({ name: "counted_at", type: "timestamptz" }) countedAt: Date;
}
