import { TRPCError } from "@trpc/server";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { ZodError } from "zod";

export type AppErrorCode =
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONFLICT"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "UNPROCESSABLE_CONTENT"
  | "TOO_MANY_REQUESTS"
  | "SERVICE_UNAVAILABLE";

export type FieldIssue = { path: string; message: string };

/**
 * The one error services throw. It knows nothing of tRPC; `toTRPCError` maps it at the edge.
 * @example throw new AppError("CONFLICT", "That slug is taken", { issues: [{ path: "slug", message: "taken" }] })
 */
export class AppError extends Error {
  constructor(
    readonly code: AppErrorCode,
    message: string,
    readonly details: { issues?: FieldIssue[]; retryAfterSeconds?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "AppError";
  }
}

const TRPC_CODES: Record<AppErrorCode, TRPC_ERROR_CODE_KEY> = {
  BAD_REQUEST: "BAD_REQUEST",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  UNPROCESSABLE_CONTENT: "UNPROCESSABLE_CONTENT",
  TOO_MANY_REQUESTS: "TOO_MANY_REQUESTS",
  SERVICE_UNAVAILABLE: "SERVICE_UNAVAILABLE",
};

export function toTRPCError(error: AppError): TRPCError {
  return new TRPCError({ code: TRPC_CODES[error.code], message: error.message, cause: error });
}

/** Zod issues flattened to `{ path: "a.b.0", message }`, the shape every caller gets. */
export function zodIssues(error: ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(input)",
    message: issue.message,
  }));
}

/** Walks an error's causes for a PostgreSQL SQLSTATE (postgres.js and PGlite both set `code`). */
export function pgErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export const PG_UNIQUE_VIOLATION = "23505";

/** A NUL, or a lone surrogate (in `u` mode a well-formed pair is one code point, not two Cs). */
const UNSTORABLE = /\0|\p{Cs}/u;

/**
 * The path to the first string in a JSON input that PostgreSQL cannot store (text and jsonb refuse a NUL
 * and an unpaired UTF-16 surrogate), or null. Walks plain objects and arrays only (not FormData).
 */
export function unstorableStringPath(value: unknown, path: Array<string | number> = []): Array<string | number> | null {
  if (typeof value === "string") return UNSTORABLE.test(value) ? path : null;
  if (path.length > 32 || value === null || typeof value !== "object") return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorableStringPath(value[i], [...path, i]);
      if (found) return found;
    }
    return null;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return null;
  for (const [key, item] of Object.entries(value)) {
    const found = unstorableStringPath(key, [...path, key]) ?? unstorableStringPath(item, [...path, key]);
    if (found) return found;
  }
  return null;
}

export { ZodError };

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "CONNECTION_CLOSED", "CONNECTION_DESTROYED", "CONNECTION_ENDED", "CONNECT_TIMEOUT", "57P01", "57P02", "57P03"]);

/** True when an error (or one of its causes) says the database could not be reached or went away. */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 6; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (CONNECTION_CODES.has(code) || code.startsWith("08"))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** statement_timeout (or a cancelled statement) and lock_timeout: the database is slow or busy, not wrong. */
export const PG_QUERY_CANCELED = "57014";
export const PG_LOCK_NOT_AVAILABLE = "55P03";

/** ioredis's own errors for a server it cannot reach or that stopped answering. */
const REDIS_UNAVAILABLE = /^(Connection is closed\.|Stream isn't writeable and enableOfflineQueue options is false|Command timed out|connect ETIMEDOUT)$/;

/** How long a caller is told to wait after an outage answer: short, since outages are usually brief. */
export const OUTAGE_RETRY_AFTER_SECONDS = 1;

/**
 * True when an error is a temporary failure of the database or Redis: unreachable, restarting, too slow
 * (statement or lock timeout). The call may succeed if made again, so it answers SERVICE_UNAVAILABLE.
 */
export function isTemporaryFailure(error: unknown): boolean {
  if (isDatabaseUnavailable(error)) return true;
  const code = pgErrorCode(error);
  if (code === PG_QUERY_CANCELED || code === PG_LOCK_NOT_AVAILABLE) return true;
  let current: unknown = error;
  for (let depth = 0; current && depth < 6; depth++) {
    if ((current as { name?: unknown }).name === "MaxRetriesPerRequestError") return true;
    const message = (current as { message?: unknown }).message;
    if (typeof message === "string" && REDIS_UNAVAILABLE.test(message)) return true;
    const errno = (current as { code?: unknown }).code;
    if (errno === "ECONNREFUSED" || errno === "ECONNRESET" || errno === "ETIMEDOUT" || errno === "EPIPE") return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The answer to a temporary failure: SERVICE_UNAVAILABLE, nothing written, try again shortly. */
export function serviceUnavailable(cause: unknown): AppError {
  const what = isDatabaseUnavailable(cause) ? "The database is unavailable" : pgErrorCode(cause) ? "The database is too slow to answer" : "A service the server needs is unavailable";
  return new AppError("SERVICE_UNAVAILABLE", `${what}: try again shortly.`, { retryAfterSeconds: OUTAGE_RETRY_AFTER_SECONDS }, { cause });
}

/** A call that ran out of time (CALL_DEADLINE_MS), usually because the database or Redis did not answer. */
export class DeadlineExceededError extends AppError {
  constructor(readonly deadlineMs: number) {
    super("SERVICE_UNAVAILABLE", `The call did not finish within ${deadlineMs / 1000} s: try again shortly.`, { retryAfterSeconds: OUTAGE_RETRY_AFTER_SECONDS });
    this.name = "DeadlineExceededError";
  }
}

export function deadlineExceeded(deadlineMs: number): DeadlineExceededError {
  return new DeadlineExceededError(deadlineMs);
}

/** SQLSTATEs of a statement that gave up for now (a timeout, a lock wait, a conflict with another transaction): nothing was written, and the same call may pass in a moment. */
const TRY_AGAIN_CODES = new Set(["57014", "55P03", "40001", "40P01"]);

/**
 * What a database error means for the caller, when it is not a bug of ours to answer with 500. It is
 * the last line behind the input schemas, which are meant to refuse every bad value first, naming its
 * field; the call boundary logs each one it maps as an error, so a gap in a schema stays visible.
 * - unreachable, shutting down, out of connections or memory (classes 08, 53, 57P0x): 503, try again;
 * - a timeout, a lock wait or a serialization conflict (57014, 55P03, 40001, 40P01): 503, try again;
 * - a data exception (class 22: a number, date or text PostgreSQL cannot hold or read, such as an
 *   integer past 2^31, a float that underflows, a year past 294276): 400, the caller sent it.
 * Anything else (a constraint we did not expect, a syntax error) stays a 500.
 * @example const refusal = databaseRefusal(err); if (refusal) throw toTRPCError(refusal);
 */
export function databaseRefusal(error: unknown): AppError | null {
  if (isDatabaseUnavailable(error)) {
    return new AppError("SERVICE_UNAVAILABLE", "The database is unavailable: try again shortly.", { retryAfterSeconds: 1 }, { cause: error });
  }
  const code = pgErrorCode(error);
  if (code === undefined) return null;
  if (code.startsWith("53") || TRY_AGAIN_CODES.has(code)) {
    return new AppError("SERVICE_UNAVAILABLE", "The database is busy: try again shortly.", { retryAfterSeconds: 1 }, { cause: error });
  }
  if (code.startsWith("22")) {
    const issue = { path: "(input)", message: "holds a value the database cannot store (out of range or not of its type)" };
    return new AppError("BAD_REQUEST", `Invalid input: ${issue.message}.`, { issues: [issue] }, { cause: error });
  }
  return null;
}
