import { TRPCClientError } from "@trpc/client";
import type { ApiErrorShape } from "./generated/router";

/** The error codes a caller is most likely to handle; any other tRPC code may also appear. */
export type AiutamiErrorCode = ApiErrorShape["data"]["code"] | "NETWORK_ERROR" | "TOO_MANY_CONNECTIONS";

/** One field's problem in a BAD_REQUEST: `path` is the field (e.g. `"email"`, `"near.lat"`). */
export type FieldIssue = { path: string; message: string };

/**
 * Every error the SDK throws. Tell causes apart by `code`:
 * @example
 * try { await client.auth.logIn({ email, password }); }
 * catch (err) {
 *   if (err instanceof AiutamiError && err.code === "TOO_MANY_REQUESTS") wait(err.retryAfterSeconds);
 *   if (err instanceof AiutamiError && err.code === "BAD_REQUEST") show(err.issues);
 * }
 */
export class AiutamiError extends Error {
  /** `UNAUTHORIZED`, `FORBIDDEN`, `BAD_REQUEST`, `TOO_MANY_REQUESTS`, `NOT_FOUND`, `CONFLICT`, `SERVICE_UNAVAILABLE`, … or `NETWORK_ERROR`. */
  readonly code: AiutamiErrorCode;
  /** The HTTP status, when the server answered. */
  readonly httpStatus: number | undefined;
  /** For BAD_REQUEST: each failing field and why. Empty otherwise. */
  readonly issues: FieldIssue[];
  /** For TOO_MANY_REQUESTS, and SERVICE_UNAVAILABLE (the server's database or Redis is down or slow): how long to wait before trying again. */
  readonly retryAfterSeconds: number | undefined;
  /** The server's request id: quote it when reporting a problem. */
  readonly requestId: string | undefined;

  constructor(message: string, details: { code: AiutamiErrorCode; httpStatus?: number; issues?: FieldIssue[]; retryAfterSeconds?: number; requestId?: string; cause?: unknown }) {
    super(message, { cause: details.cause });
    this.name = "AiutamiError";
    this.code = details.code;
    this.httpStatus = details.httpStatus;
    this.issues = details.issues ?? [];
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.requestId = details.requestId;
  }

  /**
   * Turns anything thrown by an API call (`client.api.…`) into an AiutamiError.
   * @example
   * try { await client.api.hires.accept.mutate({ id }); } catch (e) { const err = AiutamiError.from(e); if (err.code === "CONFLICT") … }
   */
  static from(err: unknown): AiutamiError {
    if (err instanceof AiutamiError) return err;
    if (err instanceof TRPCClientError) {
      const data = (err as TRPCClientError<never>).data as Partial<ApiErrorShape["data"]> | undefined;
      if (data?.code) {
        return new AiutamiError(err.message, {
          code: data.code,
          httpStatus: data.httpStatus,
          issues: data.issues,
          retryAfterSeconds: data.retryAfterSeconds,
          requestId: data.requestId,
          cause: err,
        });
      }
      return new AiutamiError(err.message || "The server could not be reached.", { code: "NETWORK_ERROR", cause: err });
    }
    return new AiutamiError(err instanceof Error ? err.message : String(err), { code: "NETWORK_ERROR", cause: err });
  }
}
