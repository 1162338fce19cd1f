import { Column, Entity, PrimaryColumn } from "typeorm";

@Entity({ name: "payment_events" })
export class PaymentEvent {
  @PrimaryColumn({ name: "event_id", type: "text" }) eventId: string;
  @Column({ name: "payment_id", type: "uuid", nullable: true }) paymentId: string | null;
  @Column({ type: "text" }) type: string;
  @Column({ type: "text" }) outcome: "processed" | "duplicate" | "ignored";
  @Column({ name: "received_at", type: "timestamptz" }) receivedAt: Date;
}
