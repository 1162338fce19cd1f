import { Column, Entity, PrimaryColumn } from "typeorm";

/** One key's request count in its current fixed window (an UNLOGGED table: src/rate-limits). */
@Entity({ name: "rate_limits" })
export class RateLimit {
  @PrimaryColumn({ type: "varchar", length: 255 }) key: string;
  @Column({ type: "integer" }) points: number;
  /** End of the window, epoch milliseconds by the database clock. */
  @Column({ type: "bigint", nullable: true }) expire: number | null;
}
