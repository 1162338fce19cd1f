import { Column, Entity, PrimaryColumn } from "typeorm";

/** A SQL function applied from its source file, with that file's checksum (src/db/sql-functions.ts). */
@Entity({ name: "sql_functions" })
export class SqlFunction {
  @PrimaryColumn({ type: "text" }) name: string;
  @Column({ type: "text" }) checksum: string;
  @Column({ name: "applied_at", type: "timestamptz" }) appliedAt: Date;
}
