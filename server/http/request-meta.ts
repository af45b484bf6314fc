import type { IncomingMessage } from "node:http";
import { IDEMPOTENCY_KEY_HEADER } from "../idempotency/request";
import { TENANT_REF_PATTERN } from "../tenants/resolve";

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** Keeps a caller's own request id when it is sane, so their logs and ours line up. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}

/**
 * The caller's address. Behind a trusted proxy (TRUST_PROXY) it is the last X-Forwarded-For
 * hop, the one the proxy itself appended; entries a client adds before it are ignored.
 */
export function clientAddressOf(req: IncomingMessage, trustProxy: boolean): string | null {
  if (trustProxy) {
    const forwarded = req.headers["x-forwarded-for"];
    const last = (Array.isArray(forwarded) ? forwarded.join(",") : forwarded)?.split(",").at(-1)?.trim();
    if (last) return last;
  }
  return req.socket.remoteAddress ?? null;
}

/** An Origin is allowed when it is the server's own (same host) or listed in ALLOWED_ORIGINS. */
export function isOriginAllowed(req: IncomingMessage, allowed: string[], trustProxy: boolean): boolean {
  const origin = req.headers.origin;
  if (!origin || origin === "null") return false;
  if (allowed.includes(origin)) return true;
  const proto = (trustProxy && typeof req.headers["x-forwarded-proto"] === "string" ? req.headers["x-forwarded-proto"] : null) ?? ("encrypted" in req.socket && req.socket.encrypted ? "https" : "http");
  return origin === `${proto}://${req.headers.host}`;
}

export function tenantRefOf(req: IncomingMessage): string | null {
  const value = req.headers["x-tenant-id"];
  if (typeof value !== "string" || value === "") return null;
  // Malformed values are passed on as they are so the tenant resolver can name the problem.
  return TENANT_REF_PATTERN.test(value) ? value.toLowerCase() : value;
}

/** The `Idempotency-Key` header as sent, or null; two of them arrive joined by a comma (and are refused as malformed). */
export function idempotencyKeyOf(req: IncomingMessage): string | null {
  const value = req.headers[IDEMPOTENCY_KEY_HEADER];
  return typeof value === "string" ? value : null;
}

export function bearerTokenOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}
