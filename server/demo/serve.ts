import { createReadStream, existsSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { join } from "node:path";

const PAGE_DIR = join(import.meta.dirname, "page");
const SDK_BUNDLE = join(import.meta.dirname, "../../client-sdk/dist/browser/aiutami-client.js");

const FILES: Record<string, { file: string; type: string }> = {
  "/demo": { file: join(PAGE_DIR, "index.html"), type: "text/html; charset=utf-8" },
  "/demo/": { file: join(PAGE_DIR, "index.html"), type: "text/html; charset=utf-8" },
  "/demo/app.js": { file: join(PAGE_DIR, "app.js"), type: "text/javascript; charset=utf-8" },
  "/demo/style.css": { file: join(PAGE_DIR, "style.css"), type: "text/css; charset=utf-8" },
  "/demo/aiutami-client.js": { file: SDK_BUNDLE, type: "text/javascript; charset=utf-8" },
};

/** Serves the live inbox page and the SDK's browser build. Returns false for paths it does not own. */
export function serveDemo(path: string, res: ServerResponse): boolean {
  const entry = FILES[path];
  if (!entry) return false;
  if (!existsSync(entry.file)) {
    res.statusCode = 503;
    res.setHeader("content-type", "text/plain");
    res.end("The SDK's browser build is missing: run `npm run build:sdk` (npm install does it).");
    return true;
  }
  res.statusCode = 200;
  res.setHeader("content-type", entry.type);
  res.setHeader("cache-control", "no-cache");
  res.setHeader("x-content-type-options", "nosniff");
  res.setHeader("content-security-policy", "default-src 'self'; img-src 'self' data: http: https:; connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; frame-ancestors 'none'");
  createReadStream(entry.file).pipe(res);
  return true;
}
