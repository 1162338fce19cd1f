import { Column, Entity, OneToMany, PrimaryColumn, type Relation } from "typeorm";
import { OrderLine } from "./order-line.entity.js";

export type OrderStatus = "reserved" | "pending_payment" | "paid" | "cancelled" | "expired" | "refunded";

@Entity({ name: "orders" })
export class Order {
  @PrimaryColumn({ type: "uuid" }) id: string;
  @Column({ name: "customer_id", type: "uuid" }) customerId: string;
  @Column({ type: "text" }) status: OrderStatus;
  @Column({ name: "total_cents", type: "bigint" }) totalCents: number;
  @Column({ name: "refunded_cents", type: "bigint" }) refundedCents: number;
  /** Changed only by compare-and-swap; never by save(). */
  @Column({ type: "integer" }) version: number;
  @Column({ name: "reserved_until", type: "timestamptz", nullable: true }) reservedUntil: Date | null;
  @Column({ name: "created_at", type: "timestamptz" }) createdAt: Date;
  @Column({ name: "updated_at", type: "timestamptz" }) updatedAt: Date;
  @OneToMany(
    () => OrderLine,
    (l) => l.order,
  )
  lines: Relation<OrderLine[]>;
}
