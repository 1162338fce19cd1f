import { Column, Entity, PrimaryColumn } from "typeorm";

@Entity({ name: "customer_api_keys" })
export class CustomerApiKey {
  @PrimaryColumn({ type: "uuid" }) id: string;
  @Column({ name: "customer_id", type: "uuid" }) customerId: string;
  @Column({ name: "key_hash", type: "text" }) keyHash: string;
  /** 1 or 2: an active key holds a slot, so a customer has at most two (partial unique index). */
  @Column({ type: "smallint" }) slot: number;
  @Column({ name: "created_at", type: "timestamptz" }) createdAt: Date;
  @Column({ name: "last_used_at", type: "timestamptz", nullable: true }) lastUsedAt: Date | null;
  @Column({ name: "revoked_at", type: "timestamptz", nullable: true }) revokedAt: Date | null;
}
