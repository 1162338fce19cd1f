import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/**
 * Secrets generated on the first start of the zero-setup (embedded database)
 * mode and kept in DATA_DIR, readable only by the service's user. Values given
 * in the environment always win.
 */
export type LocalSecrets = { pgPassword: string; adminApiKey: string; webhookSecret: string };

export function loadOrCreateLocalSecrets(dataDir: string): { secrets: LocalSecrets; created: boolean } {
  const file = path.join(dataDir, "secrets.json");
  try {
    return { secrets: JSON.parse(fs.readFileSync(file, "utf8")) as LocalSecrets, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const secrets: LocalSecrets = {
    pgPassword: randomBytes(24).toString("base64url"),
    adminApiKey: `ol_admin_${randomBytes(24).toString("base64url")}`,
    webhookSecret: `whsec_${randomBytes(24).toString("base64url")}`,
  };
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  // Write-then-link: a crash never leaves a half-written file, and of two
  // racing first starts exactly one wins (link fails with EEXIST).
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    fs.rmSync(tmp, { force: true });
    return { secrets: JSON.parse(fs.readFileSync(file, "utf8")) as LocalSecrets, created: false };
  }
  fs.rmSync(tmp, { force: true });
  return { secrets, created: true };
}
