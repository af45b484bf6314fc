import { createReadStream, existsSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";

const PAGE_DIR = join(import.meta.dirname, "page");
const SDK_DIR = join(import.meta.dirname, "../../client-sdk/dist/browser");
const HTML = "text/html; charset=utf-8";
const JS = "text/javascript; charset=utf-8";

/** The page's own modules, served from server/demo/page/ under /demo/. */
const PAGE_MODULES = ["app.js", "client.js", "hires.js", "inbox.js", "ui.js"];

const FILES: Record<string, { file: string; type: string }> = {
  "/demo": { file: join(PAGE_DIR, "index.html"), type: HTML },
  "/demo/": { file: join(PAGE_DIR, "index.html"), type: HTML },
  "/demo/style.css": { file: join(PAGE_DIR, "style.css"), type: "text/css; charset=utf-8" },
  ...Object.fromEntries(PAGE_MODULES.map((name) => [`/demo/${name}`, { file: join(PAGE_DIR, name), type: JS }])),
  "/demo/aiutami-client.js": { file: join(SDK_DIR, "aiutami-client.js"), type: JS },
  "/demo/aiutami-client.js.map": { file: join(SDK_DIR, "aiutami-client.js.map"), type: "application/json; charset=utf-8" },
};

/**
 * Scripts and styles from this origin only (no inline ones, no eval); pictures from anywhere, since
 * S3_PUBLIC_URL may put them on another host; no form may be sent by the browser itself (the page's
 * scripts send them), so a form can never post a password to a URL.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: http: https:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
  "frame-ancestors 'none'",
].join("; ");

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
  res.setHeader("referrer-policy", "no-referrer");
  res.setHeader("content-security-policy", CONTENT_SECURITY_POLICY);
  // pipeline, not pipe: a read error or a client that leaves ends this response, never the process.
  pipeline(createReadStream(entry.file), res).catch(() => res.destroy());
  return true;
}
