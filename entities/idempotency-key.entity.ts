import { Column, Entity, PrimaryColumn } from "typeorm";

/**
 * A stored Idempotency-Key answer: what happened (`outcome`) and the facts the
 * answer is rendered from (for answers rendered in the service, outcome
 * `response` and the rendered answer itself). Never HTTP made by SQL.
 */
@Entity({ name: "idempotency_keys" })
export class IdempotencyKey {
  @PrimaryColumn({ type: "text" }) owner: string;
  @PrimaryColumn({ type: "text" }) key: string;
  @Column({ type: "text" }) fingerprint: string;
  @Column({ type: "text" }) outcome: string;
  @Column({ type: "jsonb" }) facts: unknown;
  @Column({ name: "created_at", type: "timestamptz" }) createdAt: Date;
}
