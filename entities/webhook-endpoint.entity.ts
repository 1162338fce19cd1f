import { Column, Entity, PrimaryColumn } from "typeorm";

export type WebhookEndpointStatus = "enabled" | "disabled";

@Entity({ name: "webhook_endpoints" })
export class WebhookEndpoint {
  @PrimaryColumn({ type: "uuid" }) id: string;
  @Column({ type: "text" }) url: string;
  /** Null: every event type. */
  @Column({ name: "event_types", type: "text", array: true, nullable: true }) eventTypes: string[] | null;
  @Column({ type: "text", nullable: true }) description: string | null;
  @Column({ type: "text" }) status: WebhookEndpointStatus;
  /** AES-256-GCM under a key derived from WEBHOOK_SECRET (src/events/endpoint-secret.ts); never plain text. */
  @Column({ name: "secret_encrypted", type: "text" }) secretEncrypted: string;
  /** Changed only by compare-and-swap; never by save(). */
  @Column({ type: "integer" }) version: number;
  @Column({ name: "created_at", type: "timestamptz" }) createdAt: Date;
  @Column({ name: "updated_at", type: "timestamptz" }) updatedAt: Date;
  @Column({ name: "deleted_at", type: "timestamptz", nullable: true }) deletedAt: Date | null;
}
