import { Column, Entity, PrimaryColumn } from "typeorm";

@Entity({ name: "purchase_counters" })
export class PurchaseCounter {
  @PrimaryColumn({ type: "date" }) day: string;
  @PrimaryColumn({ type: "smallint" }) shard: number;
  @Column({ type: "bigint" }) purchases: number;
  @Column({ name: "revenue_cents", type: "bigint" }) revenueCents: number;
  @Column({ name: "unique_customers", type: "bigint" }) uniqueCustomers: number;
  /** Compensating entries, increment-only: succeeded refunds of counted payments on their UTC day. */
  @Column({ type: "bigint" }) refunds: number;
  @Column({ name: "refunded_cents", type: "bigint" }) refundedCents: number;
  /** Dispute refunds reversed (funds reinstated), on the reinstatement's UTC day. */
  @Column({ name: "reversed_refunds", type: "bigint" }) reversedRefunds: number;
  @Column({ name: "reversed_refunded_cents", type: "bigint" }) reversedRefundedCents: number;
}
