import { Column, Entity, PrimaryColumn } from "typeorm";

@Entity({ name: "products" })
export class Product {
  @PrimaryColumn({ type: "text" }) sku: string;
  @Column({ type: "text" }) name: string;
  @Column({ name: "price_cents", type: "integer" }) priceCents: number;
  @Column({ name: "on_hand", type: "integer" }) onHand: number;
  @Column({ type: "integer" }) reserved: number;
  /** Changed only by compare-and-swap or a locked update; never by save(). */
  @Column({ type: "integer" }) version: number;
  @Column({ name: "created_at", type: "timestamptz" }) createdAt: Date;
  @Column({ name: "updated_at", type: "timestamptz" }) updatedAt: Date;
}
