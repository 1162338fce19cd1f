import { Column, Entity, PrimaryColumn } from "typeorm";

export type PaymentStatus = "pending" | "succeeded" | "failed" | "expired";

@Entity({ name: "payments" })
export class Payment {
  @PrimaryColumn({ type: "uuid" }) id: string;
  @Column({ name: "order_id", type: "uuid" }) orderId: string;
  @Column({ name: "customer_id", type: "uuid" }) customerId: string;
  @Column({ name: "amount_cents", type: "bigint" }) amountCents: number;
  @Column({ type: "text" }) currency: string;
  @Column({ type: "text" }) status: PaymentStatus;
  @Column({ type: "text" }) provider: string;
  /** Null until the provider has created its payment (after the COMMIT that created ours). */
  @Column({ name: "provider_payment_id", type: "text", nullable: true }) providerPaymentId: string | null;
  /** Until then, one caller holds the call that creates the provider's payment (migration ProviderCallClaims). */
  @Column({ name: "provider_claimed_until", type: "timestamptz", nullable: true }) providerClaimedUntil: Date | null;
  @Column({ name: "client_secret", type: "text", nullable: true }) clientSecret: string | null;
  /** What succeeded refunds returned. */
  @Column({ name: "refunded_cents", type: "bigint" }) refundedCents: number;
  /** The sum of the refunds that are not failed (pending or succeeded): never more than the amount (a CHECK). */
  @Column({ name: "refund_claimed_cents", type: "bigint" }) refundClaimedCents: number;
  /** When the provider's side of an expired payment was cancelled; NULL while that call is owed. */
  @Column({ name: "provider_cancelled_at", type: "timestamptz", nullable: true }) providerCancelledAt: Date | null;
  @Column({ name: "expires_at", type: "timestamptz" }) expiresAt: Date;
  /** Changed only by compare-and-swap or under a row lock; never by save(). */
  @Column({ type: "integer" }) version: number;
  @Column({ name: "succeeded_at", type: "timestamptz", nullable: true }) succeededAt: Date | null;
  @Column({ name: "created_at", type: "timestamptz" }) createdAt: Date;
  @Column({ name: "updated_at", type: "timestamptz" }) updatedAt: Date;
}
