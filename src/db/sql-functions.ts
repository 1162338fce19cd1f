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
 * calls it. A trigger function's file also binds it, after the body, with
 * `CREATE OR REPLACE TRIGGER <name> ... ON <table> ... EXECUTE FUNCTION
 * orderlock_<name>()`: the rule and where it is enforced are one file (the
 * table must exist: triggers go on tables the migrations made). Every
 * migrate applies them, in the migration's transaction:
 * - a file whose checksum differs from the one recorded in `sql_functions`,
 *   or whose function is missing or has an extra overload, or whose triggers
 *   are not exactly the ones bound to its function, is applied (every
 *   overload of the name is dropped first, so a changed signature leaves no
 *   stale overload behind; a trigger function is dropped with its triggers,
 *   which the file then binds again, all before COMMIT);
 * - an `orderlock_*` function without a file is dropped (with its triggers);
 * - files are applied in dependency order (a LANGUAGE sql body is checked at
 *   creation, so what it calls must exist first).
 */
export type SqlTrigger = { name: string; table: string };
export type SqlFunctionSource = {
  name: string;
  file: string;
  text: string;
  body: string;
  settings: string[];
  triggers: SqlTrigger[];
  checksum: string;
};

const DEFINITION = /^CREATE OR REPLACE FUNCTION (orderlock_[a-z0-9_]+)\(/m;
const BODY = /\$fn\$([\s\S]*)\$fn\$/;
const SETTING = /^SET ([a-z_]+) = ([a-z_0-9]+)$/gm;
const TRIGGER = /^CREATE OR REPLACE TRIGGER ([a-z0-9_]+)\s[\s\S]*?\sON ([a-z0-9_]+)\s[\s\S]*?\sEXECUTE FUNCTION ([a-z0-9_]+)\(\)/gm;

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
    const bound = [...text.slice(text.lastIndexOf("$fn$")).matchAll(TRIGGER)];
    if ((text.match(/CREATE OR REPLACE TRIGGER/g)?.length ?? 0) !== bound.length) {
      throw new Error(
        `${file}: bind a trigger after the body, as CREATE OR REPLACE TRIGGER <name> ... ON <table> ... EXECUTE FUNCTION ${name}()`,
      );
    }
    if (bound.some((m) => m[3] !== name)) throw new Error(`${file}: a file's triggers execute its own function, ${name}()`);
    if (bound.length > 0 && !/\)\s*RETURNS trigger\b/.test(text)) throw new Error(`${file}: only a function that RETURNS trigger is bound`);
    const triggers = bound.map((m) => ({ name: m[1], table: m[2] }));
    return { name, file, text, body, settings, triggers, checksum: createHash("sha256").update(text).digest("hex") };
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
  // The triggers bound to each orderlock_* function, as "<trigger> ON <table>".
  const boundNow = new Map<string, string[]>();
  for (const t of (await q.query(
    `SELECT p.proname, t.tgname || ' ON ' || t.tgrelid::regclass::text AS trigger
       FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE NOT t.tgisinternal AND p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'orderlock\\_%'`,
  )) as { proname: string; trigger: string }[]) {
    boundNow.set(t.proname, [...(boundNow.get(t.proname) ?? []), t.trigger]);
  }
  const sameTriggers = (s: SqlFunctionSource) =>
    [...(boundNow.get(s.name) ?? [])].sort().join() ===
    s.triggers
      .map((t) => `${t.name} ON ${t.table}`)
      .sort()
      .join();
  const changed: string[] = [];
  const dropAll = async (name: string) => {
    const overloads = (await q.query(
      `SELECT p.oid::regprocedure::text AS signature, p.prorettype = 'trigger'::regtype AS trigger
         FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace AND p.proname = $1`,
      [name],
    )) as { signature: string; trigger: boolean }[];
    // Only triggers can depend on a trigger function; anything else depending on a function stops the drop.
    for (const o of overloads) await q.query(`DROP FUNCTION ${o.signature}${o.trigger ? " CASCADE" : ""}`);
  };

  const wanted = new Set(sources.map((s) => s.name));
  for (const name of present.keys()) {
    if (wanted.has(name)) continue;
    await dropAll(name);
    changed.push(name);
  }
  await q.query(`DELETE FROM sql_functions WHERE NOT (name = ANY($1::text[]))`, [[...wanted]]);

  for (const s of sources) {
    if (recorded.get(s.name) === s.checksum && present.get(s.name) === 1 && sameTriggers(s)) continue;
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
