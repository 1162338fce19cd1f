import { Entity, PrimaryColumn } from "typeorm";

/** Dedupe key: a customer counts once per UTC day towards unique customers. */
@Entity({ name: "counted_customer_days" })
export class CountedCustomerDay {
  @PrimaryColumn({ type: "date" }) day: string;
  @PrimaryColumn({ name: "customer_id", type: "uuid" }) customerId: string;
}
