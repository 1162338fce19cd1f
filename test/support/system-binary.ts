import fs from "node:fs";

/**
 * A system binary a topology test needs (PgBouncer, PostgreSQL 15, HAProxy).
 * Missing on a developer's machine: the test is skipped. Missing in CI
 * (process.env.CI set): the test file fails, since CI installs them
 * (.ci/install-debian-packages.sh) and a silent skip would hide a gap.
 */
export function systemBinary(file: string): { path: string; available: boolean } {
  const available = fs.existsSync(file);
  if (!available && process.env.CI) throw new Error(`${file} is required in CI (see .ci/install-debian-packages.sh) and is missing`);
  return { path: file, available };
}

/** As root, the ids of the unprivileged `postgres` user that servers run as; otherwise undefined. */
export function unprivilegedIds(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const line = fs
    .readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error("running as root and there is no 'postgres' user to run servers as");
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}
