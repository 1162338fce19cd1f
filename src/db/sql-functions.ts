import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { QueryRunner } from "typeorm";

/**
 * SQL functions are source files, not migration history (Flyway's repeatable
 * migrations are the model). Each `src/**\/<name>.sql` holds exactly one
 * `CREATE OR REPLACE FUNCTION orderlock_<name>(...)` (dashes become
 * underscores), with its settings such as `SET plan_cache_mode` in the
 * definition and its body quoted as `$fn$ ... $fn$`, beside the use case that
 * calls it. Every migrate applies them, in the migration's transaction:
 * - a file whose checksum differs from the one recorded in `sql_functions`,
 *   or whose function is missing or has an extra overload, is applied (every
 *   overload of the name is dropped first, so a changed signature leaves no
 *   stale overload behind);
 * - an `orderlock_*` function without a file is dropped;
 * - files are applied in dependency order (a LANGUAGE sql body is checked at
 *   creation, so what it calls must exist first).
 */
export type SqlFunctionSource = { name: string; file: string; text: string; body: string; settings: string[]; checksum: string };

const DEFINITION = /^CREATE OR REPLACE FUNCTION (orderlock_[a-z0-9_]+)\(/m;
const BODY = /\$fn\$([\s\S]*)\$fn\$/;
const SETTING = /^SET ([a-z_]+) = ([a-z_0-9]+)$/gm;

function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("sql-functions: no package.json above this module");
    dir = parent;
  }
  return dir;
}

function sqlFilesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sqlFilesUnder(path.join(dir, e.name)) : e.name.endsWith(".sql") ? [path.join(dir, e.name)] : []));
}

/** Every function source under src/, checked for the conventions above, in dependency order. */
export function loadSqlFunctions(srcDir = path.join(projectRoot(), "src")): SqlFunctionSource[] {
  const sources = sqlFilesUnder(srcDir).map((file): SqlFunctionSource => {
    const text = fs.readFileSync(file, "utf8");
    const name = DEFINITION.exec(text)?.[1];
    const expected = `orderlock_${path.basename(file, ".sql").replaceAll("-", "_")}`;
    if (name !== expected) throw new Error(`${file}: must define exactly ${expected} (found ${name ?? "no function"})`);
    if (text.match(/CREATE OR REPLACE FUNCTION/g)?.length !== 1) throw new Error(`${file}: one function per file`);
    const body = BODY.exec(text)?.[1];
    if (body === undefined) throw new Error(`${file}: quote the body as $fn$ ... $fn$`);
    const settings = [...text.matchAll(SETTING)].map((m) => `${m[1]}=${m[2]}`);
    return { name, file, text, body, settings, checksum: createHash("sha256").update(text).digest("hex") };
  });
  return inDependencyOrder(sources);
}

function inDependencyOrder(sources: SqlFunctionSource[]): SqlFunctionSource[] {
  const byName = new Map(sources.map((s) => [s.name, s]));
  const ordered: SqlFunctionSource[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (s: SqlFunctionSource, trail: string[]) => {
    if (state.get(s.name) === "done") return;
    if (state.get(s.name) === "visiting") throw new Error(`sql-functions: dependency cycle ${[...trail, s.name].join(" → ")}`);
    state.set(s.name, "visiting");
    for (const m of s.body.matchAll(/\b(orderlock_[a-z0-9_]+)\s*\(/g)) {
      const dep = byName.get(m[1]);
      if (dep && dep !== s) visit(dep, [...trail, s.name]);
    }
    state.set(s.name, "done");
    ordered.push(s);
  };
  for (const s of [...sources].sort((a, b) => a.name.localeCompare(b.name))) visit(s, []);
  return ordered;
}

/** Brings the database's functions in line with the source files; returns the names it (re)applied or dropped. */
export async function installSqlFunctions(q: QueryRunner, sources = loadSqlFunctions()): Promise<string[]> {
  const recorded = new Map<string, string>(
    ((await q.query(`SELECT name, checksum FROM sql_functions`)) as { name: string; checksum: string }[]).map((r) => [r.name, r.checksum]),
  );
  // Each orderlock_* function in the database, with how many overloads it has.
  const present = new Map<string, number>(
    (
      (await q.query(
        `SELECT proname, count(*)::int AS n FROM pg_proc
          WHERE pronamespace = current_schema()::regnamespace AND proname LIKE 'orderlock\\_%' GROUP BY proname`,
      )) as { proname: string; n: number }[]
    ).map((r) => [r.proname, r.n]),
  );
  const changed: string[] = [];
  const dropAll = async (name: string) => {
    const overloads = (await q.query(
      `SELECT p.oid::regprocedure::text AS signature FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace AND p.proname = $1`,
      [name],
    )) as { signature: string }[];
    for (const o of overloads) await q.query(`DROP FUNCTION ${o.signature}`);
  };

  const wanted = new Set(sources.map((s) => s.name));
  for (const name of present.keys()) {
    if (wanted.has(name)) continue;
    await dropAll(name);
    changed.push(name);
  }
  await q.query(`DELETE FROM sql_functions WHERE NOT (name = ANY($1::text[]))`, [[...wanted]]);

  for (const s of sources) {
    if (recorded.get(s.name) === s.checksum && present.get(s.name) === 1) continue;
    await dropAll(s.name);
    await q.query(s.text);
    await q.query(
      `INSERT INTO sql_functions (name, checksum) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()`,
      [s.name, s.checksum],
    );
    changed.push(s.name);
  }
  return changed;
}
