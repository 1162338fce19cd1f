import { Column, Entity, PrimaryColumn } from "typeorm";

export type RefundStatus = "pending" | "succeeded" | "failed" | "reversed";
/** Who asked for it: the admin (`requested`), a success after expiry, a dispute, or the provider's own dashboard. */
export type RefundKind = "requested" | "late_success" | "dispute" | "provider";
export type RefundLine = { sku: string; quantity: number; restock: boolean };

@Entity({ name: "refunds" })
export class Refund {
  @PrimaryColumn({ type: "uuid" }) id: string;
  @Column({ name: "payment_id", type: "uuid" }) paymentId: string;
  @Column({ name: "order_id", type: "uuid" }) orderId: string;
  @Column({ name: "amount_cents", type: "bigint" }) amountCents: number;
  @Column({ type: "text" }) currency: string;
  @Column({ type: "text" }) reason: string;
  @Column({ type: "text" }) kind: RefundKind;
  @Column({ type: "text" }) status: RefundStatus;
  @Column({ type: "jsonb" }) lines: RefundLine[];
  /** Null until the provider has accepted our request (a call made after COMMIT). */
  @Column({ name: "provider_refund_id", type: "text", nullable: true }) providerRefundId: string | null;
  @Column({ name: "dispute_id", type: "text", nullable: true }) disputeId: string | null;
  /** Changed only under the payment's row lock, by the refund settle functions. */
  @Column({ type: "integer" }) version: number;
  @Column({ name: "settled_at", type: "timestamptz", nullable: true }) settledAt: Date | null;
  @Column({ name: "created_at", type: "timestamptz" }) createdAt: Date;
  @Column({ name: "updated_at", type: "timestamptz" }) updatedAt: Date;
}
