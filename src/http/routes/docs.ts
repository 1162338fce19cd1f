import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Response, Router } from "express";

/**
 * GET /docs: the API reference, Swagger UI rendering GET /openapi.json.
 * Every byte comes from this service: swagger-ui-dist's prebuilt bundle and
 * stylesheet straight from the installed npm package (pinned in
 * package.json), plus our own page and init script from public/docs (Swagger
 * UI's stock initializer is an inline-able script pointing at the petstore;
 * ours names /openapi.json and turns off the online validator, which would
 * send the document to validator.swagger.io).
 *
 * The app-wide Content-Security-Policy (helmet: default-src 'self',
 * script-src 'self', no inline scripts) holds here unchanged: the bundle
 * needs no eval and no inline script, and its inline SVG/data: icons are
 * within helmet's img-src 'self' data:. No extra CSP is set for /docs.
 */
const require = createRequire(import.meta.url);
const swaggerUiDir = path.dirname(require.resolve("swagger-ui-dist/package.json"));

/** Only these files of the package are served; the rest (source maps, the petstore initializer, OAuth2 pages) is not. */
const SWAGGER_ASSETS: Record<string, string> = {
  "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

/** public/docs, from src/http/routes (tsx, vitest) or dist/src/http/routes (npm start). */
function defaultPublicDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, "../../../public/docs"), path.resolve(here, "../../../../public/docs")];
  return candidates.find((dir) => fs.existsSync(path.join(dir, "index.html"))) ?? candidates[0];
}

const revalidate = (res: Response) => res.setHeader("Cache-Control", "no-cache");

export function docsRouter(publicDir = defaultPublicDir()): Router {
  const r = Router();
  r.get("/docs", (_req, res) => {
    revalidate(res);
    res.sendFile("index.html", { root: publicDir, cacheControl: false, dotfiles: "deny" });
  });
  r.get("/docs/init.js", (_req, res) => {
    revalidate(res);
    res.sendFile("init.js", { root: publicDir, cacheControl: false, dotfiles: "deny" });
  });
  r.get("/docs/:asset", (req, res, next) => {
    const type = SWAGGER_ASSETS[req.params.asset];
    if (!type) return next();
    revalidate(res);
    res.type(type).sendFile(req.params.asset, { root: swaggerUiDir, cacheControl: false, dotfiles: "deny" });
  });
  return r;
}
