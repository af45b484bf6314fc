/**
 * The schema's migrator, for PostgreSQL and PGlite alike (docs/decisions/010-database-functions-as-files.md):
 * 1. checks every migration file against `db/migrations/checksums.sha256`: a released migration is never
 *    edited, so a file whose checksum differs is refused, naming it;
 * 2. checks what the database applied (drizzle's own `drizzle.__drizzle_migrations` table, so databases
 *    migrated by earlier releases carry on) against the files: a migration applied from a different file, or
 *    one this code does not have, is refused, naming it;
 * 3. in one transaction, applies the pending migrations (table changes), then every file of `db/functions/`
 *    (each database function's current definition with its grants, CREATE OR REPLACE, so applying them again
 *    changes nothing), and records the migrations. Anything failing rolls all of it back.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const DB_FOLDER = dirname(fileURLToPath(import.meta.url));
export const MIGRATIONS_FOLDER = resolve(DB_FOLDER, "migrations");
export const FUNCTIONS_FOLDER = resolve(DB_FOLDER, "functions");
export const CHECKSUMS_FILE = "checksums.sha256";
const BREAKPOINT = "--> statement-breakpoint";

/** What the migrator needs of a connection as the schema's owner. */
export type MigrationSession = {
  /** Runs one or more statements without parameters. */
  exec: Exec;
  rows<T extends Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Runs `work` in one transaction, its statements through the `exec` it is given. */
  transaction(work: (exec: Exec) => Promise<void>): Promise<void>;
};
type Exec = (sql: string) => Promise<void>;

export type Migration = { tag: string; file: string; when: number; hash: string; statements: string[] };

export type MigrateOptions = {
  migrationsFolder?: string;
  functionsFolder?: string;
  /** Stop after this migration (with `migrationsFolder` and `functionsFolder` of an earlier release: the state it left). */
  until?: string;
};

/** A migration or function file the database cannot be migrated with; the message names it and says why. */
export class MigrationRefused extends Error {
  override name = "MigrationRefused";
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** The committed checksums: file name → sha256 of its content. */
export function readChecksums(migrationsFolder = MIGRATIONS_FOLDER): Map<string, string> {
  const listed = new Map<string, string>();
  let text = "";
  try {
    text = readFileSync(join(migrationsFolder, CHECKSUMS_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  for (const line of text.split("\n")) {
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (match) listed.set(match[2]!, match[1]!);
  }
  return listed;
}

/** The migrations of drizzle's journal, in order, each checked against its committed checksum. */
export function readMigrations(migrationsFolder = MIGRATIONS_FOLDER): Migration[] {
  const journal = JSON.parse(readFileSync(join(migrationsFolder, "meta", "_journal.json"), "utf8")) as {
    entries: { tag: string; when: number; breakpoints: boolean }[];
  };
  const checksums = readChecksums(migrationsFolder);
  return journal.entries.map(({ tag, when, breakpoints }) => {
    const file = `${tag}.sql`;
    const text = readFileSync(join(migrationsFolder, file), "utf8");
    const hash = sha256(text);
    const listed = checksums.get(file);
    if (listed !== undefined && listed !== hash) {
      throw new MigrationRefused(
        `db/migrations/${file} was edited after its release (its checksum differs from db/migrations/${CHECKSUMS_FILE}): released migrations are never changed; restore it and put the change in a new migration.`,
      );
    }
    const statements = (breakpoints ? text.split(BREAKPOINT) : [text]).filter((s) => s.trim() !== "");
    return { tag, file, when, hash, statements };
  });
}

/** Every `*.sql` under the functions folder, in path order (a file may use what an earlier one defines). */
export function functionFiles(functionsFolder = FUNCTIONS_FOLDER): { path: string; sql: string }[] {
  // Releases before functions had their own files kept them in migrations only.
  if (!existsSync(functionsFolder)) return [];
  const files = (readdirSync(functionsFolder, { recursive: true }) as string[]).filter((f) => f.endsWith(".sql")).sort();
  const shown = functionsFolder === FUNCTIONS_FOLDER ? "db/functions" : functionsFolder;
  return files.map((f) => ({ path: join(shown, f), sql: readFileSync(join(functionsFolder, f), "utf8") }));
}

type AppliedRow = { hash: string; created_at: string | number };

/** The migrations still to apply, after checking the applied ones against the files. */
function pending(migrations: Migration[], applied: AppliedRow[]): Migration[] {
  const byWhen = new Map(migrations.map((m) => [m.when, m]));
  let last = 0;
  for (const row of applied) {
    const when = Number(row.created_at);
    const migration = byWhen.get(when);
    if (!migration) {
      throw new MigrationRefused(
        `The database has a migration this code does not have (created ${new Date(when).toISOString()}): it was migrated by a newer release. Run that release, or restore the database.`,
      );
    }
    if (migration.hash !== row.hash) {
      throw new MigrationRefused(
        `db/migrations/${migration.file} differs from the migration this database applied (applied ${row.hash.slice(0, 12)}, file ${migration.hash.slice(0, 12)}): released migrations are never changed; restore the file and put the change in a new migration.`,
      );
    }
    last = Math.max(last, when);
  }
  return migrations.filter((m) => m.when > last);
}

/** Migrates the database; returns the tags it applied. */
export async function migrate(session: MigrationSession, options: MigrateOptions = {}): Promise<string[]> {
  let migrations = readMigrations(options.migrationsFolder);
  if (options.until !== undefined) {
    const end = migrations.findIndex((m) => m.tag === options.until);
    if (end < 0) throw new MigrationRefused(`No migration ${options.until} in db/migrations.`);
    migrations = migrations.slice(0, end + 1);
  }
  const functions = functionFiles(options.functionsFolder);
  await session.exec(`CREATE SCHEMA IF NOT EXISTS drizzle;
    CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`);
  const todo = pending(migrations, await session.rows<AppliedRow>("SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY created_at"));
  await session.transaction(async (exec) => {
    for (const migration of todo) {
      for (const statement of migration.statements) await run(exec, statement, `db/migrations/${migration.file}`);
      await exec(`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('${migration.hash}', ${migration.when})`);
    }
    for (const file of functions) await run(exec, file.sql, file.path);
  });
  return todo.map((m) => m.tag);
}

async function run(exec: Exec, sql: string, source: string): Promise<void> {
  try {
    await exec(sql);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new MigrationRefused(`${source}: ${message}`, { cause: err });
  }
}
