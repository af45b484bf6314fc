import { retryLink, TRPCClientError, type Operation, type TRPCLink } from "@trpc/client";
import type { AppRouter } from "./generated/router";

/**
 * The creates the server runs once per `Idempotency-Key` (24 h, per user and per procedure): the SDK
 * gives each call of these a key of its own unless the call brings one, so its retries reuse it.
 * `tests/integration/idempotency.test.ts` checks this list against the server's router.
 */
export const IDEMPOTENT_MUTATIONS: readonly string[] = ["hires.create", "tenants.create", "tenants.invitations.accept"];

/** Retries of calls that are safe to repeat: how many, and how long to wait between them. */
export type RetryOptions = {
  /** Attempts after the first. @default 3 */
  retries?: number;
  /** The wait before the first retry; it doubles with each one, with jitter. @default 250 */
  minDelayMs?: number;
  /** The longest wait between two attempts. @default 5000 */
  maxDelayMs?: number;
};

/**
 * A fresh key: 128 random bits as hex. `crypto.getRandomValues` exists in every browser page (secure
 * context or not) and in Node 20.
 * @example client.api.hires.create.mutate(input, { context: { idempotencyKey: newIdempotencyKey() } })
 */
export function newIdempotencyKey(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The call's key: one it brought in `context.idempotencyKey`, or none (`false` turns the automatic one off). */
export function idempotencyKeyOf(op: Pick<Operation, "context">): string | undefined {
  const key = op.context.idempotencyKey;
  return typeof key === "string" ? key : undefined;
}

/**
 * Gives each call of an idempotent create a key before anything else sees it, so every retry of the
 * call (retryLink below) sends the same one.
 */
export function idempotencyKeyLink(): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) => {
      if (op.type !== "mutation" || !IDEMPOTENT_MUTATIONS.includes(op.path) || op.context.idempotencyKey !== undefined) return next(op);
      return next({ ...op, context: { ...op.context, idempotencyKey: newIdempotencyKey() } });
    };
}

/**
 * No answer at all (the connection failed or was cut), or an answer saying the service is not available
 * right now (503, or a gateway's 502 or 504). An answer with anything else is final.
 */
export function isTransientFailure(error: unknown): boolean {
  if (!(error instanceof TRPCClientError)) return false;
  const data = (error as TRPCClientError<AppRouter>).data as { httpStatus?: number } | undefined | null;
  const response = (error.meta as { response?: { status?: number } } | undefined)?.response;
  const status = data?.httpStatus ?? response?.status;
  if (status === undefined) return true;
  return status === 502 || status === 503 || status === 504;
}

/**
 * Retries with backoff (doubling from `minDelayMs` to `maxDelayMs`, each wait between half and all of
 * its step) the calls that are safe to repeat: queries, and mutations that carry an idempotency key, which
 * the server answers once. Only transient failures are retried; a mutation without a key never is,
 * since a lost answer cannot tell whether it ran.
 */
export function safeRetryLink(options: RetryOptions = {}): TRPCLink<AppRouter> {
  const retries = options.retries ?? 3;
  const min = options.minDelayMs ?? 250;
  const max = options.maxDelayMs ?? 5000;
  return retryLink<AppRouter>({
    retry: ({ op, attempts, error }) => {
      if (attempts > retries || op.signal?.aborted) return false;
      const safe = op.type === "query" || (op.type === "mutation" && idempotencyKeyOf(op) !== undefined && IDEMPOTENT_MUTATIONS.includes(op.path));
      return safe && isTransientFailure(error);
    },
    retryDelayMs: (attempt) => {
      const step = Math.min(max, min * 2 ** (attempt - 1));
      return step / 2 + Math.random() * (step / 2);
    },
  });
}
