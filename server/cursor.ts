import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { AppError } from "./errors";

/**
 * Paging cursors the API hands out: `<payload>.<signature>`, both base64url. The payload is the
 * position after a page's last item; the signature is HMAC-SHA256 over the list's scope and the
 * payload, under a key derived from the server's secret (APP_SECRET). The scope names the list and
 * everything that shapes it (the caller, the tenant, the filters, the sort), so a cursor is valid only
 * in the list that issued it: a forged, altered or transplanted cursor is refused before any SQL sees it.
 *
 * Callers must treat a cursor as opaque. Its payload only ever holds what the page itself showed (ids,
 * sequence numbers, rates, distances from the public point), never anything more private.
 *
 * @example
 * const next = sealCursor(secret, `audit:${tenantId}`, { id: last.id });
 * const { id } = openCursor(secret, `audit:${tenantId}`, input.cursor, z.object({ id: z.uuid() }));
 */

const SHAPE = /^[A-Za-z0-9_-]{1,400}\.[A-Za-z0-9_-]{43}$/;

/** A key of its own for cursors, so the secret is never used directly and can serve other purposes. */
const keys = new Map<string, Buffer>();
function cursorKey(secret: string): Buffer {
  let key = keys.get(secret);
  if (!key) {
    key = createHmac("sha256", secret).update("aiutami/cursor/v1").digest();
    keys.set(secret, key);
  }
  return key;
}

function sign(secret: string, scope: string, payload: string): Buffer {
  return createHmac("sha256", cursorKey(secret)).update(scope).update("\n").update(payload).digest();
}

/** A short, stable digest of a value's JSON with sorted keys: for scopes built from a list's filters. */
export function scopeDigest(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
      : Array.isArray(v)
        ? v.map(canonical)
        : v;
  return createHash("sha256").update(JSON.stringify(canonical(value)) ?? "null").digest("base64url").slice(0, 22);
}

/** The cursor for `payload` in the list named by `scope`. */
export function sealCursor(secret: string, scope: string, payload: Record<string, unknown>): string {
  const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
  return `${body}.${sign(secret, scope, body).toString("base64url")}`;
}

const refused = () =>
  new AppError("BAD_REQUEST", "The cursor is not one this list handed out: start again without it.", {
    issues: [{ path: "cursor", message: "is not a cursor from this list (it was altered, or comes from another list or filters)" }],
  });

/**
 * The payload of a cursor this server sealed for `scope`, checked against `shape`.
 * @throws AppError BAD_REQUEST naming `cursor` when the signature does not match or the payload is malformed.
 */
export function openCursor<T>(secret: string, scope: string, cursor: string, shape: z.ZodType<T>): T {
  if (!SHAPE.test(cursor)) throw refused();
  const [body, signature] = cursor.split(".") as [string, string];
  const given = Buffer.from(signature, "base64url");
  const expected = sign(secret, scope, body);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refused();
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    throw refused();
  }
  // Signed by this server, so well-formed unless the code changed shape between releases: check anyway.
  const parsed = shape.safeParse(payload);
  if (!parsed.success) throw refused();
  return parsed.data;
}

/** Payload shapes shared by the lists. */
export const IdPosition = z.object({ id: z.uuid() }).strict();
