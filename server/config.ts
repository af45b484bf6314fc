import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");

const csv = z
  .string()
  .transform((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );

/**
 * A rate limit written `<count>/<window>`, the window in seconds, minutes, hours or days (`10/1h`,
 * `30/1m`, `5/90s`), or `off`.
 */
const rate = z
  .string()
  .regex(/^(off|[1-9]\d{0,8}\/[1-9]\d{0,6}[smhd])$/, "must be <count>/<window> such as 10/1h or 30/1m (window in s, m, h or d), or off")
  .transform((v): Rate => {
    if (v === "off") return null;
    const [count, window] = v.split("/") as [string, string];
    const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[window.slice(-1) as "s" | "m" | "h" | "d"];
    return { points: Number(count), seconds: Number(window.slice(0, -1)) * unit };
  });

/** At most `points` calls per `seconds`; null: no limit. */
export type Rate = { points: number; seconds: number } | null;

const postgresUrl = z
  .string()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), "must be a postgres:// or postgresql:// URL");

/** Every environment variable the server reads, with its default. `.env.example` mirrors this list. */
export const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  LOG_FORMAT: z.enum(["auto", "json", "pretty"]).default("auto"),
  DATA_DIR: z.string().min(1).default(".data"),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_APP_URL: postgresUrl.optional(),
  DATABASE_APP_PASSWORD: z.string().min(1).optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(5000),
  DATABASE_LOCK_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(2000),
  CALL_DEADLINE_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  REDIS_URL: z
    .string()
    .refine((v) => /^rediss?:\/\//.test(v), "must be a redis:// or rediss:// URL")
    .optional(),
  ALLOWED_ORIGINS: csv.optional(),
  TRUST_PROXY: bool.default(false),
  SESSION_INACTIVITY_DAYS: z.coerce.number().positive().max(365).default(14),
  SESSION_ABSOLUTE_DAYS: z.coerce.number().positive().max(3650).default(30),
  SESSION_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(10_000),
  LOGIN_MAX_FAILURES_PER_EMAIL: z.coerce.number().int().min(1).default(10),
  LOGIN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).default(50),
  LOGIN_THROTTLE_WINDOW_SECONDS: z.coerce.number().int().min(1).default(900),
  LOGIN_EMAIL_CEILING: z.coerce.number().int().min(1).optional(),
  LOGIN_EMAIL_SLOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  RATE_LIMIT_SIGN_UP_PER_ADDRESS: rate.default(() => ({ points: 10, seconds: 3600 })),
  RATE_LIMIT_HIRES_PER_ACCOUNT: rate.default(() => ({ points: 30, seconds: 60 })),
  RATE_LIMIT_HIRES_PER_ADDRESS: rate.default(() => ({ points: 300, seconds: 60 })),
  RATE_LIMIT_TENANTS_PER_ACCOUNT: rate.default(() => ({ points: 10, seconds: 3600 })),
  RATE_LIMIT_TENANTS_PER_ADDRESS: rate.default(() => ({ points: 30, seconds: 3600 })),
  TRPC_MAX_BATCH: z.coerce.number().int().min(1).max(1000).default(20),
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  PUBLIC_URL: z.url().optional(),
  S3_ENDPOINT: z.url().optional(),
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name").default("aiutami-media"),
  S3_REGION: z.string().min(1).default("us-east-1"),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_PUBLIC_URL: z.url().optional(),
  S3_FORCE_PATH_STYLE: bool.default(true),
  PHOTO_MAX_BYTES: z.coerce.number().int().min(1024).max(100_000_000).default(8 * 1024 * 1024),
  PHOTO_MAX_PIXELS: z.coerce.number().int().min(10_000).max(200_000_000).default(40_000_000),
  PHOTO_MAX_CONCURRENT_DECODES: z.coerce.number().int().min(1).max(32).default(2),
  PHOTO_MAX_CONCURRENT_UPLOADS: z.coerce.number().int().min(1).max(256).default(4),
  DEMO_PAGE: bool.optional(),
  ROLES: csv
    .pipe(z.array(z.enum(["api", "hub", "relay"])).min(1, "must name at least one of api, hub, relay"))
    .default(["api", "hub", "relay"]),
  STREAM_MAXLEN: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  STREAM_TTL_SECONDS: z.coerce.number().int().min(1).default(7 * 86_400),
  HUB_READERS: z.coerce.number().int().min(1).max(3).default(3),
  HUB_SWEEP_MS: z.coerce.number().int().min(100).default(5000),
  HUB_MAX_EVENTS_PER_10S: z.coerce.number().int().min(1).default(50),
  HUB_SESSION_CHECK_MS: z.coerce.number().int().min(100).default(10_000),
  HUB_MAX_SOCKETS_PER_USER: z.coerce.number().int().min(1).max(10_000).default(20),
  APP_SECRET: z.string().min(32, "must be at least 32 characters").max(1024).optional(),
});

export type RateLimitsConfig = Record<"signUp" | "hiresCreate" | "tenantsCreate", { perAccount: Rate; perAddress: Rate }>;

export type Config = {
  env: "development" | "production" | "test";
  port: number;
  host: string;
  logLevel: string;
  /** `auto`: human-readable on a terminal in development, JSON otherwise. */
  logFormat: "json" | "pretty";
  dataDir: string;
  database:
    | { kind: "pglite"; dataDir: string }
    | {
        kind: "postgres";
        ownerUrl: string;
        appUrl: string;
        appUrlGiven: boolean;
        appPassword?: string;
        poolSize: number;
        /** PostgreSQL's statement_timeout and lock_timeout on every connection of the server's pool. */
        limits: { statementTimeoutMs: number; lockTimeoutMs: number };
      };
  redis: { url: string; explicit: boolean };
  /** Origins allowed to send cookie-authenticated mutations (besides the server's own host). */
  allowedOrigins: string[];
  trustProxy: boolean;
  cookieSecure: boolean;
  session: { inactivityMs: number; absoluteMs: number };
  /** How long the API keeps a session row (0: every call reads it); revocations reach every process sooner. */
  sessionCacheMs: number;
  /**
   * Failed log-ins allowed per (email, address) and per address in the window; past `emailCeiling`
   * failures of one email from everywhere, one attempt per `emailSlowSeconds` from addresses that have not
   * logged in to it before.
   */
  loginThrottle: { maxPerEmail: number; maxPerAddress: number; windowSeconds: number; emailCeiling: number; emailSlowSeconds: number };
  /** Calls per account and per address for the procedures that create things (null: no limit). */
  rateLimits: RateLimitsConfig;
  /** The most calls one tRPC batch request may carry. */
  trpcMaxBatch: number;
  /** `/metrics`: the bearer token it needs; without one it is served only to loopback in development. */
  metrics: { token: string | null; openOnLoopback: boolean };
  shutdownTimeoutMs: number;
  /**
   * How long a call (tRPC, or a socket's handshake) may take from its arrival: past it, it answers
   * SERVICE_UNAVAILABLE with retryAfterSeconds, and its queries are abandoned.
   */
  callDeadlineMs: number;
  /** Serve the live inbox page at /demo (default: on with the embedded database, off otherwise). */
  demoPage: boolean;
  /** What this process runs: the tRPC API, the Socket.IO hub, the outbox relay (all by default). */
  roles: { api: boolean; hub: boolean; relay: boolean };
  /** The per-user Redis streams: approximate length cap and expiry (the "temporary storage"). */
  stream: { maxLen: number; ttlSeconds: number };
  hub: { readers: number; sweepMs: number; maxEventsPer10s: number; sessionCheckMs: number; maxSocketsPerUser: number };
  /**
   * The server's secret: signs the cursors it hands out (server/cursor.ts). From APP_SECRET, or generated
   * once and kept in DATA_DIR/secret, so a restart keeps cursors valid. Every API process behind one
   * balancer must share it.
   */
  appSecret: { value: string; source: "env" | "file" };
  /** Where browsers reach this server; used to build media URLs served by the server itself. */
  publicUrl: string;
  media: {
    /** Unset endpoint: an in-process S3-protocol server (s3rver) storing under DATA_DIR/s3. */
    s3:
      | { kind: "embedded"; directory: string; bucket: string }
      | { kind: "external"; endpoint?: string; bucket: string; region: string; accessKeyId?: string; secretAccessKey?: string; forcePathStyle: boolean };
    /** Base URL of the bucket as browsers reach it; unset: served through this server at /media/. */
    publicBaseUrl: string | null;
    maxBytes: number;
    maxPixels: number;
    maxConcurrentDecodes: number;
    /** Uploads whose bodies are being read at once; the rest wait unread (TCP backpressure). */
    maxConcurrentUploads: number;
  };
};

/**
 * Reads `.env` from the working directory (or the file named by ENV_FILE) into the environment when
 * the file exists, before validation. Variables already set win over the file (Node's own loader never
 * overrides them).
 * @returns the file's path when one was read
 */
export function loadDotEnv(path = process.env.ENV_FILE ?? ".env"): string | null {
  try {
    process.loadEnvFile(path);
    return path;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new ConfigError([`${path}: ${(err as Error).message}`]);
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const DAY_MS = 86_400_000;
export const APP_DB_ROLE = "aiutami_app";

/** The server's connection: the owner's URL with the app role's name, unless given outright. */
function deriveAppUrl(ownerUrl: string, password?: string): string {
  const url = new URL(ownerUrl);
  url.username = APP_DB_ROLE;
  url.password = password ? encodeURIComponent(password) : "";
  return url.toString();
}

/**
 * The secret kept in DATA_DIR/secret, created on first use. Written to a temporary file and linked into
 * place, so two processes starting together agree on one secret and none reads a half-written file.
 */
function keptSecret(dataDir: string): string {
  const path = join(dataDir, "secret");
  const read = () => {
    const value = readFileSync(path, "utf8").trim();
    if (value.length < 32) throw new Error(`${path} holds fewer than 32 characters`);
    return value;
  };
  try {
    return read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(temporary, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o600 });
  try {
    linkSync(temporary, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    unlinkSync(temporary);
  }
  return read();
}

/**
 * Reads and validates the environment once. Reports every bad or missing variable at once.
 * @throws ConfigError
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "not set", as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
    );
  }
  const e = parsed.data;
  const problems = crossCheck(e);
  let appSecret: Config["appSecret"] | undefined;
  try {
    appSecret = e.APP_SECRET ? { value: e.APP_SECRET, source: "env" } : { value: keptSecret(e.DATA_DIR), source: "file" };
  } catch (err) {
    problems.push(`APP_SECRET: unset, and ${join(e.DATA_DIR, "secret")} could not be read or created (${(err as Error).message}): set APP_SECRET (at least 32 characters) or make DATA_DIR writable`);
  }
  if (problems.length || !appSecret) throw new ConfigError(problems);
  return configOf(e, appSecret);
}

type Env = z.infer<typeof EnvSchema>;

/** The rules between variables, each a line naming the variable to change. */
function crossCheck(e: Env): string[] {
  const problems: string[] = [];
  if (e.SESSION_ABSOLUTE_DAYS < e.SESSION_INACTIVITY_DAYS) {
    problems.push("SESSION_ABSOLUTE_DAYS: must be at least SESSION_INACTIVITY_DAYS");
  }
  if (e.DATABASE_APP_URL && !e.DATABASE_URL) {
    problems.push("DATABASE_APP_URL: needs DATABASE_URL (the owner connection that runs migrations)");
  }
  if (Boolean(e.S3_ACCESS_KEY_ID) !== Boolean(e.S3_SECRET_ACCESS_KEY)) {
    problems.push("S3_SECRET_ACCESS_KEY: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together");
  }
  if (e.LOGIN_EMAIL_CEILING !== undefined && e.LOGIN_EMAIL_CEILING <= e.LOGIN_MAX_FAILURES_PER_EMAIL) {
    // Else one address alone could slow an account down for everyone.
    problems.push("LOGIN_EMAIL_CEILING: must be more than LOGIN_MAX_FAILURES_PER_EMAIL");
  }
  return problems;
}

function databaseOf(e: Env): Config["database"] {
  return e.DATABASE_URL
    ? {
        kind: "postgres",
        ownerUrl: e.DATABASE_URL,
        appUrl: e.DATABASE_APP_URL ?? deriveAppUrl(e.DATABASE_URL, e.DATABASE_APP_PASSWORD),
        appUrlGiven: e.DATABASE_APP_URL !== undefined,
        appPassword: e.DATABASE_APP_PASSWORD,
        poolSize: e.DATABASE_POOL_SIZE,
        limits: { statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS, lockTimeoutMs: e.DATABASE_LOCK_TIMEOUT_MS },
      }
    : { kind: "pglite", dataDir: `${e.DATA_DIR}/pg` };
}

function mediaOf(e: Env): Config["media"] {
  return {
    s3: e.S3_ENDPOINT || e.S3_ACCESS_KEY_ID
      ? {
          kind: "external",
          endpoint: e.S3_ENDPOINT,
          bucket: e.S3_BUCKET,
          region: e.S3_REGION,
          accessKeyId: e.S3_ACCESS_KEY_ID,
          secretAccessKey: e.S3_SECRET_ACCESS_KEY,
          forcePathStyle: e.S3_FORCE_PATH_STYLE,
        }
      : { kind: "embedded", directory: `${e.DATA_DIR}/s3`, bucket: e.S3_BUCKET },
    publicBaseUrl: e.S3_PUBLIC_URL?.replace(/\/+$/, "") ?? null,
    maxBytes: e.PHOTO_MAX_BYTES,
    maxPixels: e.PHOTO_MAX_PIXELS,
    maxConcurrentDecodes: e.PHOTO_MAX_CONCURRENT_DECODES,
    maxConcurrentUploads: e.PHOTO_MAX_CONCURRENT_UPLOADS,
  };
}

function configOf(e: Env, appSecret: Config["appSecret"]): Config {
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT === "auto" ? (e.NODE_ENV === "development" && process.stdout.isTTY ? "pretty" : "json") : e.LOG_FORMAT,
    dataDir: e.DATA_DIR,
    database: databaseOf(e),
    redis: { url: e.REDIS_URL ?? "redis://127.0.0.1:6379", explicit: e.REDIS_URL !== undefined },
    allowedOrigins: e.ALLOWED_ORIGINS ?? [],
    trustProxy: e.TRUST_PROXY,
    cookieSecure: e.NODE_ENV !== "development",
    session: { inactivityMs: e.SESSION_INACTIVITY_DAYS * DAY_MS, absoluteMs: e.SESSION_ABSOLUTE_DAYS * DAY_MS },
    sessionCacheMs: e.SESSION_CACHE_MS,
    loginThrottle: {
      maxPerEmail: e.LOGIN_MAX_FAILURES_PER_EMAIL,
      maxPerAddress: e.LOGIN_MAX_FAILURES_PER_ADDRESS,
      windowSeconds: e.LOGIN_THROTTLE_WINDOW_SECONDS,
      emailCeiling: e.LOGIN_EMAIL_CEILING ?? 3 * e.LOGIN_MAX_FAILURES_PER_EMAIL,
      emailSlowSeconds: e.LOGIN_EMAIL_SLOW_SECONDS,
    },
    rateLimits: {
      signUp: { perAccount: null, perAddress: e.RATE_LIMIT_SIGN_UP_PER_ADDRESS },
      hiresCreate: { perAccount: e.RATE_LIMIT_HIRES_PER_ACCOUNT, perAddress: e.RATE_LIMIT_HIRES_PER_ADDRESS },
      tenantsCreate: { perAccount: e.RATE_LIMIT_TENANTS_PER_ACCOUNT, perAddress: e.RATE_LIMIT_TENANTS_PER_ADDRESS },
    },
    trpcMaxBatch: e.TRPC_MAX_BATCH,
    metrics: { token: e.METRICS_TOKEN ?? null, openOnLoopback: !e.METRICS_TOKEN && e.NODE_ENV === "development" },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    callDeadlineMs: e.CALL_DEADLINE_MS,
    demoPage: e.DEMO_PAGE ?? !e.DATABASE_URL,
    roles: { api: e.ROLES.includes("api"), hub: e.ROLES.includes("hub"), relay: e.ROLES.includes("relay") },
    stream: { maxLen: e.STREAM_MAXLEN, ttlSeconds: e.STREAM_TTL_SECONDS },
    appSecret,
    hub: { readers: e.HUB_READERS, sweepMs: e.HUB_SWEEP_MS, maxEventsPer10s: e.HUB_MAX_EVENTS_PER_10S, sessionCheckMs: e.HUB_SESSION_CHECK_MS, maxSocketsPerUser: e.HUB_MAX_SOCKETS_PER_USER },
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ""),
    media: mediaOf(e),
  };
}
