import { Column, Entity, PrimaryColumn } from "typeorm";

@Entity({ name: "idempotency_keys" })
export class IdempotencyKey {
  @PrimaryColumn({ type: "text" }) owner: string;
  @PrimaryColumn({ type: "text" }) key: string;
  @Column({ type: "text" }) fingerprint: string;
  @Column({ name: "response_status", type: "integer" }) responseStatus: number;
  @Column({ name: "response_body", type: "jsonb", nullable: true }) responseBody: unknown;
  @Column({ name: "response_headers", type: "jsonb" }) responseHeaders: Record<string, string>;
  @Column({ name: "created_at", type: "timestamptz" }) createdAt: Date;
}
