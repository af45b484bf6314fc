import { createHash } from "node:crypto";
import { stringify } from "safe-stable-stringify";
import { AppError } from "../errors";

/** The request header (HTTP header names are case-insensitive; Node hands them over lower-cased). */
export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
/** Set on an answer that is a replay of an earlier one, as Stripe does. */
export const IDEMPOTENT_REPLAYED_HEADER = "idempotent-replayed";
/** How long a key answers its first result: 24 hours, as Stripe keeps them. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600_000;
/** 1-255 characters of letters, digits and `- _ . : ~ + / =`: a UUID, a ULID, base64 and base64url all fit. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_.:~+/=-]{1,255}$/;

const KEY_RULE = "must be 1-255 characters of letters, digits and - _ . : ~ + / =";

/**
 * A create that runs once per key: what a service needs to claim the key in the create's own
 * transaction (`runOnce`, or a hire statement's `idempotency` in `app_create_hire`) and to answer a retry.
 */
export type IdempotencyRequest = {
  userId: string;
  /** The tRPC path: keys are scoped per user and per procedure. */
  procedure: string;
  key: string;
  /** SHA-256 of the request (its tenant and validated input): a retry must match it. */
  fingerprint: string;
  /** The services' clock at the call, and the end of the key's window. */
  now: Date;
  expiresAt: Date;
  /** Called when the answer is an earlier one, replayed (the HTTP answer then says `Idempotent-Replayed: true`). */
  onReplay(): void;
};

/**
 * The key as the header carried it, checked. A value quoted as a structured-field string (`"…"`, as the
 * IETF draft for this header writes it) is unquoted first. Anything else out of the pattern, two headers
 * at once (which arrive joined by a comma) included, is a BAD_REQUEST naming the header.
 */
export function parseIdempotencyKey(raw: string): string {
  const value = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  if (!IDEMPOTENCY_KEY_PATTERN.test(value)) {
    throw new AppError("BAD_REQUEST", `Idempotency-Key header ${KEY_RULE}.`, { issues: [{ path: "Idempotency-Key", message: KEY_RULE }] });
  }
  return value;
}

/** The request's fingerprint: the same tenant and the same input (keys in any order) give the same one. */
export function fingerprintOf(request: { tenant: string | null; input: unknown }): string {
  return createHash("sha256").update(stringify(request) ?? "").digest("hex");
}

/** The call's idempotency, or null when it carries no key. */
export function idempotencyRequestOf(opts: {
  rawKey: string | null;
  userId: string;
  procedure: string;
  tenant: string | null;
  input: unknown;
  now: Date;
  onReplay(): void;
}): IdempotencyRequest | null {
  if (opts.rawKey === null) return null;
  return {
    userId: opts.userId,
    procedure: opts.procedure,
    key: parseIdempotencyKey(opts.rawKey),
    fingerprint: fingerprintOf({ tenant: opts.tenant, input: opts.input }),
    now: opts.now,
    expiresAt: new Date(opts.now.getTime() + IDEMPOTENCY_WINDOW_MS),
    onReplay: opts.onReplay,
  };
}
