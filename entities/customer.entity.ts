import { Column, Entity, PrimaryColumn } from "typeorm";

@Entity({ name: "customers" })
export class Customer {
  @PrimaryColumn({ type: "uuid" }) id: string;
  @Column({ type: "text" }) name: string;
  @Column({ name: "created_at", type: "timestamptz" }) createdAt: Date;
}
