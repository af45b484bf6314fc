import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import postgres from "postgres";
import { afterAll, describe, expect, inject, it } from "vitest";
import { migratePostgresDatabase, openPglite } from "../../db/migrate";
import { FUNCTIONS_FOLDER, MIGRATIONS_FOLDER, readMigrations } from "../../db/migrator";
import { fileDatabaseUrl } from "../helpers/file-database";
import { functionNames, schemaCatalog } from "../helpers/schema-catalog";

/**
 * The release before this one, where the upgrade path starts: its commit, whose db/ folder (migrations and,
 * from this release on, functions) is taken from git. Move it on when a release lands.
 */
const PREVIOUS_RELEASE = { commit: "4e6b8dfab48ee4af6269fd59e14b4f9ec2cb716d", lastMigration: "0012_create-hires" };

/** This file's own database (migrated, as every test file's); the databases made here are named after the run's template. */
const ownerUrl = fileDatabaseUrl();
const templateUrl = inject("databaseTemplateUrl");
const baseName = `${decodeURIComponent(new URL(templateUrl).pathname.slice(1))}_m${Math.random().toString(36).slice(2, 6)}`;
const adminUrl = inject("databaseAdminUrl");
const created: string[] = [];
const temp = mkdtempSync(join(tmpdir(), "aiutami-migrations-"));

/** A new, empty database of this run (its name starts with the run's, so a killed run's is swept later). */
async function emptyDatabase(suffix: string): Promise<string> {
  const name = `${baseName}_${suffix}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  created.push(name);
  return Object.assign(new URL(templateUrl), { pathname: `/${name}` }).toString();
}

/** The previous release's db/ folder, from git, as migrate options. */
function previousRelease(): { migrationsFolder: string; functionsFolder: string; until: string } {
  const dir = join(temp, "previous-release");
  mkdirSync(dir, { recursive: true });
  const root = join(import.meta.dirname, "../..");
  const archive = spawnSync("git", ["-C", root, "archive", "--format=tar", PREVIOUS_RELEASE.commit, "db"], { maxBuffer: 256 << 20 });
  if (archive.status !== 0) {
    throw new Error(`The upgrade test needs the previous release's commit ${PREVIOUS_RELEASE.commit} in git history: ${archive.stderr.toString().trim()}`);
  }
  execFileSync("tar", ["-x", "-C", dir], { input: archive.stdout });
  return { migrationsFolder: join(dir, "db/migrations"), functionsFolder: join(dir, "db/functions"), until: PREVIOUS_RELEASE.lastMigration };
}

async function query<T extends Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return [...(await sql.unsafe<T[]>(text))];
  } finally {
    await sql.end();
  }
}

afterAll(async () => {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    for (const name of created) await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  rmSync(temp, { recursive: true, force: true });
});

describe("migrations", () => {
  it("a database migrated at the previous release, then at this one, matches one migrated fresh", async () => {
    const fresh = await emptyDatabase("fresh");
    const upgraded = await emptyDatabase("upgraded");
    await migratePostgresDatabase(fresh);
    const release = previousRelease();
    await migratePostgresDatabase(upgraded, undefined, release);
    const before = await schemaCatalog(upgraded);
    const after = await schemaCatalog(fresh);
    // The comparison can tell them apart: the previous release lacks this one's tables and functions.
    expect(before).not.toEqual(after);

    const applied = await migratePostgresDatabase(upgraded);
    expect(applied[0]).not.toBe(PREVIOUS_RELEASE.lastMigration);
    expect(applied.at(-1)).toBe(readMigrations().at(-1)!.tag);
    expect(await schemaCatalog(upgraded)).toEqual(after);
  });

  it("migrating again applies nothing and changes nothing", async () => {
    const url = await emptyDatabase("again");
    expect((await migratePostgresDatabase(url)).length).toBe(readMigrations().length);
    const first = await schemaCatalog(url);
    expect(await migratePostgresDatabase(url)).toEqual([]);
    expect(await schemaCatalog(url)).toEqual(first);
  });

  it("refuses an edited released migration, naming it, before writing anything", async () => {
    const folder = join(temp, "edited");
    cpSync(MIGRATIONS_FOLDER, folder, { recursive: true });
    appendFileSync(join(folder, "0010_create-hire.sql"), "\n-- an edit\n");
    const url = await emptyDatabase("edited");
    await expect(migratePostgresDatabase(url, undefined, { migrationsFolder: folder })).rejects.toThrow(
      /^db\/migrations\/0010_create-hire\.sql was edited after its release/,
    );
    expect(await query(url, "SELECT to_regclass('public.users') AS t")).toEqual([{ t: null }]);
  });

  it("refuses a database that applied a different file than the one of that name, naming it", async () => {
    const url = await emptyDatabase("drifted");
    await migratePostgresDatabase(url);
    const when = readMigrations().find((m) => m.tag === "0011_transition-hire")!.when;
    await query(url, `UPDATE drizzle.__drizzle_migrations SET hash = repeat('0', 64) WHERE created_at = ${when}`);
    await expect(migratePostgresDatabase(url)).rejects.toThrow(
      /^db\/migrations\/0011_transition-hire\.sql differs from the migration this database applied \(applied 000000000000, file [0-9a-f]{12}\)/,
    );
  });

  it("a function file that fails rolls the whole migration back, and the error names the file", async () => {
    const functions = join(temp, "functions");
    cpSync(FUNCTIONS_FOLDER, functions, { recursive: true });
    mkdirSync(join(functions, "zz"), { recursive: true });
    writeFileSync(join(functions, "zz", "broken.sql"), "CREATE OR REPLACE FUNCTION app_broken() RETURNS int LANGUAGE sql AS $$ SELECT no_such_column $$;\n");
    const url = await emptyDatabase("broken");
    await expect(migratePostgresDatabase(url, undefined, { functionsFolder: functions })).rejects.toThrow(
      /zz\/broken\.sql: column "no_such_column" does not exist/,
    );
    expect(await query(url, "SELECT to_regclass('public.users') AS t")).toEqual([{ t: null }]);
    expect(await query(url, "SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations")).toEqual([{ n: 0 }]);
  });

  it("every function of the database is defined in one file of db/functions, named for it", async () => {
    // The adapters kept for a server of the previous release during an upgrade sit together in one file.
    const ADAPTERS = "previous-release.sql";
    const files = (readdirSync(FUNCTIONS_FOLDER, { recursive: true }) as string[]).filter((f) => f.endsWith(".sql"));
    const fileOf = (fn: string) => `${fn.replace(/^app_/, "").replaceAll("_", "-")}.sql`;
    const definedIn = (file: string) =>
      [...readFileSync(join(FUNCTIONS_FOLDER, file), "utf8").matchAll(/CREATE (?:OR REPLACE )?FUNCTION (\w+)\(/g)].map((m) => m[1]!);
    const named = files.filter((f) => basename(f) !== ADAPTERS);
    const adapted = new Set(files.filter((f) => basename(f) === ADAPTERS).flatMap(definedIn));
    const names = await functionNames(ownerUrl);
    expect(names.length).toBeGreaterThan(5);
    // Each function has its own file, or is only an adapter of the previous release's; no file is left over.
    const owned = names.filter((n) => named.some((f) => basename(f) === fileOf(n)));
    expect(names.filter((n) => !owned.includes(n) && !adapted.has(n))).toEqual([]);
    expect(named.map((f) => basename(f)).sort()).toEqual(owned.map(fileOf).sort());
    const definitions: string[] = [];
    for (const file of files) {
      const defined = definedIn(file);
      expect(defined.length, file).toBeGreaterThan(0);
      if (basename(file) !== ADAPTERS) for (const name of defined) expect(fileOf(name), `${file} defines ${name}`).toBe(basename(file));
      definitions.push(...defined);
    }
    // No overload left behind: a changed argument list makes a second function unless a migration drops the old one.
    const overloads = await query<{ proname: string }>(ownerUrl, `SELECT p.proname FROM pg_proc p
      WHERE p.pronamespace = 'public'::regnamespace AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')`);
    expect(overloads.map((r) => r.proname).sort()).toEqual(definitions.sort());
  });

  it("the embedded database opens again on the same folder with nothing to apply", async () => {
    const dir = join(temp, "pglite");
    const first = await openPglite(dir);
    await first.close();
    const second = await openPglite(dir);
    try {
      await second.ping();
    } finally {
      await second.close();
    }
  });
});
