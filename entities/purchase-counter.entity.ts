import { Column, Entity, PrimaryColumn } from "typeorm";

@Entity({ name: "purchase_counters" })
export class PurchaseCounter {
  @PrimaryColumn({ type: "date" }) day: string;
  @PrimaryColumn({ type: "smallint" }) shard: number;
  @Column({ type: "bigint" }) purchases: number;
  @Column({ name: "revenue_cents", type: "bigint" }) revenueCents: number;
  @Column({ name: "unique_customers", type: "bigint" }) uniqueCustomers: number;
}
