import { Column, Entity, PrimaryColumn } from "typeorm";

@Entity({ name: "stock_adjustments" })
export class StockAdjustment {
  @PrimaryColumn({ type: "bigint" }) id: string;
  @Column({ type: "text" }) sku: string;
  @Column({ type: "integer" }) delta: number;
  @Column({ type: "text" }) reason: string;
  @Column({ name: "on_hand_after", type: "integer" }) onHandAfter: number;
  @Column({ name: "created_at", type: "timestamptz" }) createdAt: Date;
}
