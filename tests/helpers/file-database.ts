import postgres from "postgres";
import { afterAll, inject } from "vitest";

/**
 * A vitest setup file (vitest.config.ts, every project with a global setup): each test file gets a
 * PostgreSQL database of its own, cloned with `CREATE DATABASE ... TEMPLATE` from the project's migrated
 * one (tests/helpers/global-setup.ts), before the file's first test, and dropped after its last.
 *
 * Why one per file: a relay, a hub or a count in one file then sees that file's rows only. A relay
 * scans every notification not yet streamed, whoever it is for, so with one shared database a relay
 * started by one file took (and, with Redis made unreachable, delayed) rows of another file's tests.
 * A clone costs about 40 ms; migrating a database per file would cost seconds. Nothing connects to the
 * template itself (PostgreSQL refuses to clone a database somebody is connected to), which is why
 * global-setup provides it under a name of its own and tests read `fileDatabaseUrl()`.
 */
type FileDatabase = { name: string; url: string };
const key = "__aiutamiFileDatabase";
const state = globalThis as { [key]?: FileDatabase };

/** The owner URL of this test file's own database (trust auth: the owner role of the test cluster). */
export function fileDatabaseUrl(): string {
  const db = state[key];
  if (!db) throw new Error("no database for this test file: tests/helpers/file-database.ts runs as a vitest setup file of projects with a global setup");
  return db.url;
}

const admin = () => postgres(inject("databaseAdminUrl"), { max: 1, onnotice: () => {} });

async function cloneForThisFile(): Promise<FileDatabase> {
  const template = new URL(inject("databaseTemplateUrl"));
  const templateName = decodeURIComponent(template.pathname.slice(1));
  // A name of this run (the template's, which carries the run id) and of this file: two files, or two
  // runs, never share one. Kept short of PostgreSQL's 63-byte limit.
  const name = `${templateName}_f${process.pid.toString(36)}${Math.random().toString(36).slice(2, 8)}`.slice(0, 63);
  const sql = admin();
  try {
    await sql.unsafe(`CREATE DATABASE "${name}" TEMPLATE "${templateName}"`);
  } finally {
    await sql.end();
  }
  const url = new URL(template);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

if (!state[key]) {
  const db = await cloneForThisFile();
  state[key] = db;
  afterAll(async () => {
    state[key] = undefined;
    const sql = admin();
    try {
      // FORCE: a server a test left running, or a pool still closing, does not keep the file's rows.
      await sql.unsafe(`DROP DATABASE IF EXISTS "${db.name}" WITH (FORCE)`);
    } finally {
      await sql.end();
    }
  });
}
