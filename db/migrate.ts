import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { btree_gist } from "@electric-sql/pglite/contrib/btree_gist";
import { cube } from "@electric-sql/pglite/contrib/cube";
import { earthdistance } from "@electric-sql/pglite/contrib/earthdistance";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { Database } from "./client";
import { migrate, type MigrateOptions, type MigrationSession } from "./migrator";
import { abandonOnAbort, orAbort, registerSignalBinding } from "./query-abort";
import * as schema from "./schema";

export { MIGRATIONS_FOLDER } from "./migrator";
const APP_ROLE = "aiutami_app";
// Any fixed number: serialises migrations when several server processes start at once.
const MIGRATION_LOCK_KEY = 7_311_420_031;

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Creates the owner URL's database when it does not exist and the owner may create databases, so a
 * fresh PostgreSQL needs no manual step. Returns false when it could not (the caller reports why).
 */
async function createMissingDatabase(ownerUrl: string): Promise<boolean> {
  const target = new URL(ownerUrl);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!name) return false;
  const maintenance = new URL(ownerUrl);
  maintenance.pathname = "/postgres";
  const admin = postgres(maintenance.toString(), { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await admin.unsafe(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    return true;
  } catch (err) {
    // Another process created it meanwhile: that is what we wanted.
    return (err as { code?: string }).code === "42P04";
  } finally {
    await admin.end({ timeout: 5 });
  }
}

function postgresSession(sql: postgres.Sql): MigrationSession {
  return {
    exec: async (text) => void (await sql.unsafe(text).simple()),
    rows: async <T extends Record<string, unknown>>(text: string) => [...(await sql.unsafe(text))] as unknown as T[],
    transaction: async (work) => void (await sql.begin((tx) => work(async (text) => void (await tx.unsafe(text).simple())))),
  };
}

function pgliteSession(pg: PGlite): MigrationSession {
  return {
    exec: async (text) => void (await pg.exec(text)),
    rows: async <T extends Record<string, unknown>>(text: string) => (await pg.query<T>(text)).rows,
    transaction: async (work) => void (await pg.transaction((tx) => work(async (text) => void (await tx.exec(text))))),
  };
}

/**
 * Applies the committed migrations and database functions as the owner (db/migrator.ts), then sets the app
 * role's password if one is configured. `options` is for tests of the upgrade path.
 */
export async function migratePostgresDatabase(ownerUrl: string, appPassword?: string, options: MigrateOptions = {}): Promise<string[]> {
  const probe = postgres(ownerUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await probe`select 1`;
  } catch (err) {
    if ((err as { code?: string }).code !== "3D000" || !(await createMissingDatabase(ownerUrl))) throw err;
  } finally {
    await probe.end({ timeout: 5 });
  }
  const client = postgres(ownerUrl, { max: 1, onnotice: () => {} });
  try {
    await client`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    try {
      const applied = await migrate(postgresSession(client), options);
      if (appPassword) await client.unsafe(`ALTER ROLE ${APP_ROLE} PASSWORD ${quoteLiteral(appPassword)}`);
      return applied;
    } finally {
      await client`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
    }
  } finally {
    await client.end({ timeout: 5 });
  }
}

export type OpenedDatabase = {
  db: Database;
  kind: "pglite" | "postgres";
  ping(): Promise<void>;
  close(): Promise<void>;
};

/**
 * drizzle sends every statement unnamed (`prepare: false`), so PostgreSQL parses and plans each one on
 * every request. This makes postgres.js prepare them instead: it keeps one named statement per
 * distinct SQL text per connection, and transactions' clients are wrapped the same way. With a
 * `signal`, every query is abandoned when it aborts (see abandonOnAbort), and a transaction that has not
 * started by then rolls back as soon as it does.
 */
export function preparingStatements<T extends postgres.Sql>(sql: T, signal?: AbortSignal): T {
  const wrapCallback = (args: unknown[]) => {
    const callback = args.at(-1) as (tx: postgres.Sql) => unknown;
    return [
      ...args.slice(0, -1),
      (tx: postgres.Sql) => {
        signal?.throwIfAborted();
        return callback(preparingStatements(tx, signal));
      },
    ];
  };
  return new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop === "unsafe") {
        return (query: string, params?: unknown[], options?: Record<string, unknown>) => {
          const pending = target.unsafe(query, params as never, { ...options, prepare: true });
          if (signal) abandonOnAbort(pending, signal);
          return pending;
        };
      }
      if (prop === "begin" || prop === "savepoint") {
        return (...args: unknown[]) => {
          const started = ((target as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[prop]!)(...wrapCallback(args));
          // A transaction waiting for a connection is no query abandonOnAbort reaches: its caller is
          // answered now, and its callback refuses to run when it gets one.
          return signal ? orAbort(started, signal) : started;
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Server-side limits set on each of the server's connections (PostgreSQL's own settings, in ms). */
export type ConnectionLimits = {
  /** `statement_timeout`: a statement running longer is cancelled (SQLSTATE 57014). @default 5000 */
  statementTimeoutMs: number;
  /** `lock_timeout`: a statement waiting longer for a lock fails (SQLSTATE 55P03). @default 2000 */
  lockTimeoutMs: number;
};

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { statementTimeoutMs: 5000, lockTimeoutMs: 2000 };

/**
 * Seconds before a connection's next attempt after `retries` failed ones: 50 ms doubling to 1 s, with
 * jitter. postgres.js's own goes up to 20 s, and every query waits for an attempt, so after an outage the
 * pool took up to 20 s to serve again.
 */
function reconnectBackoff(retries: number): number {
  return Math.min(1, 0.05 * 2 ** retries) * (0.5 + Math.random() / 2);
}

/** Opens the server's pool as the app role (no table owned, no BYPASSRLS). */
export function openPostgres(appUrl: string, poolSize: number, limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS): OpenedDatabase {
  const client = postgres(appUrl, {
    max: poolSize,
    onnotice: () => {},
    connect_timeout: 5,
    idle_timeout: 60,
    backoff: reconnectBackoff,
    // Sent in the start-up message, so they hold on every connection from its first statement.
    connection: { statement_timeout: limits.statementTimeoutMs, lock_timeout: limits.lockTimeoutMs },
  });
  const db = drizzlePostgres(preparingStatements(client), { schema, casing: "snake_case" }) as unknown as Database;
  registerSignalBinding(db, (signal) => {
    // The same pool and the same drizzle handle, with a session whose client abandons its queries on abort.
    const { session } = db as unknown as { session: object };
    const bound = Object.create(session, { client: { value: preparingStatements(client, signal) } }) as object;
    return Object.create(db, { session: { value: bound } }) as Database;
  });
  return {
    db,
    kind: "postgres",
    ping: async () => {
      await client`select 1`;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/**
 * Refuses to open an embedded data directory that another live process holds: two PGlite
 * instances on one directory would corrupt it.
 */
function lockDataDir(dataDir: string): () => void {
  const lockFile = `${dataDir}.lock`;
  mkdirSync(dirname(lockFile), { recursive: true });
  try {
    const pid = Number(readFileSync(lockFile, "utf8"));
    if (pid && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        throw new Error(
          `The embedded database ${dataDir} is in use by process ${pid}. Stop it first, or set DATABASE_URL.`,
        );
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  writeFileSync(lockFile, String(process.pid));
  return () => rmSync(lockFile, { force: true });
}

/**
 * The embedded database: migrations run as PGlite's superuser, then the one connection switches
 * to the app role with SET ROLE so the same row-level security applies (docs/decisions/003).
 */
export async function openPglite(dataDir: string): Promise<OpenedDatabase> {
  const unlock = dataDir.startsWith("memory://") ? () => {} : lockDataDir(dataDir);
  if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir, { extensions: { cube, earthdistance, btree_gist } });
  try {
    await migrate(pgliteSession(client));
    await client.exec(`SET ROLE ${APP_ROLE}`);
  } catch (err) {
    await client.close();
    unlock();
    throw err;
  }
  const db = drizzlePglite(client, { schema, casing: "snake_case" }) as unknown as Database;
  return {
    db,
    kind: "pglite",
    ping: async () => {
      await client.query("select 1");
    },
    close: async () => {
      await client.close();
      unlock();
    },
  };
}
