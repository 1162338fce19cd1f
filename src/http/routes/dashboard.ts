import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Response, Router } from "express";

/**
 * The operations dashboard: static HTML/CSS/ES modules from public/dashboard,
 * no build step. Loading the page needs no key; the page asks for the admin
 * key and sends it as a Bearer token on every API call it makes.
 *
 * Every response here carries a strict Content-Security-Policy of its own
 * (set after any app-wide security headers, so it wins): scripts, styles and
 * fetches from this origin only, nothing inline, no framing. Files are
 * revalidated on every load (`no-cache` + ETag/Last-Modified, so a reload is
 * a few 304s): without a build step there are no hashed names to cache for long.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** public/dashboard, from src/http/routes (tsx, vitest) or dist/src/http/routes (npm start). */
function defaultPublicDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, "../../../public/dashboard"), path.resolve(here, "../../../../public/dashboard")];
  return candidates.find((dir) => fs.existsSync(path.join(dir, "index.html"))) ?? candidates[0];
}

function pageHeaders(res: Response): void {
  res.setHeader("Content-Security-Policy", DASHBOARD_CSP);
  res.setHeader("Cache-Control", "no-cache");
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("X-Frame-Options", "DENY");
}

export function dashboardRouter(currency: string, publicDir = defaultPublicDir()): Router {
  const r = Router();
  r.use("/dashboard", (_req, res, next) => {
    pageHeaders(res);
    next();
  });
  r.get("/dashboard", (_req, res) => {
    res.sendFile("index.html", { root: publicDir, cacheControl: false, dotfiles: "deny" });
  });
  // The one thing the page needs from the configuration; nothing secret.
  r.get("/dashboard/config.json", (_req, res) => {
    res.json({ currency });
  });
  r.use(
    "/dashboard",
    express.static(publicDir, { index: false, redirect: false, cacheControl: false, dotfiles: "deny", fallthrough: true }),
  );
  return r;
}
