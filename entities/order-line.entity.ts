import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from "typeorm";
import { Order } from "./order.entity.js";

@Entity({ name: "order_lines" })
export class OrderLine {
  @PrimaryColumn({ name: "order_id", type: "uuid" }) orderId: string;
  @PrimaryColumn({ type: "text" }) sku: string;
  @Column({ type: "integer" }) quantity: number;
  @Column({ name: "unit_price_cents", type: "integer" }) unitPriceCents: number;
  @Column({ name: "line_total_cents", type: "bigint" }) lineTotalCents: number;
  @ManyToOne(
    () => Order,
    (o) => o.lines,
    { onDelete: "CASCADE" },
  )
  @JoinColumn({ name: "order_id" })
  order: Relation<Order>;
}
