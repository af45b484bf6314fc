import { sql } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rowsOf } from "../../db/client";
import { openPostgres, type OpenedDatabase } from "../../db/migrate";
import { bindToSignal } from "../../db/query-abort";
import { FaultProxy } from "../helpers/fault-proxy";
import { eventually } from "../helpers/sockets";
import { fileDatabaseUrl } from "../helpers/file-database";

/**
 * db/query-abort.ts against the real PostgreSQL: a call that ends (its deadline, its client gone) leaves
 * no query behind that could still write, and the pool stays whole. The pool has one connection, so a
 * connection left unusable would show at once.
 */
const table = `query_abort_probe_${process.pid}_${Date.now()}`;
let admin: postgres.Sql;
let proxy: FaultProxy;
let database: OpenedDatabase;

beforeAll(async () => {
  const url = new URL(fileDatabaseUrl());
  admin = postgres(url.toString(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create table ${table} (label text not null)`);
  proxy = await new FaultProxy([{ host: url.hostname, port: Number(url.port || 5432) }]).start();
  url.port = String(proxy.port);
  database = openPostgres(url.toString(), 1);
});
afterAll(async () => {
  await database?.close();
  await proxy?.stop();
  await admin?.unsafe(`drop table if exists ${table}`);
  await admin?.end();
});

const labels = async () => (await admin.unsafe<{ label: string }[]>(`select label from ${table} order by label`)).map((r) => r.label);
const reason = () => new Error("the call ended");
/** The abort's reason, whether it comes as it is or wrapped by drizzle (DrizzleQueryError's cause). */
const endedBy = (err: Error & { cause?: unknown }) => (err.cause instanceof Error ? err.cause.message : err.message);

describe("queries bound to a call's signal", () => {
  it("a write waiting for a connection is refused at the abort, never runs, and the pool serves afterwards", async () => {
    proxy.stall(); // the pool's first connection is held unanswered: every query waits for it
    const controller = new AbortController();
    const write = bindToSignal(database.db, controller.signal).execute(sql.raw(`insert into ${table} values ('abandoned')`));
    const outcome = write.then(() => "written", endedBy);
    controller.abort(reason());
    expect(await outcome).toBe("the call ended");
    proxy.resume();
    // The same single connection, whose first query was the abandoned one, now serves others.
    const rows = rowsOf<{ one: number }>(await database.db.execute(sql`select 1 as one`));
    expect(rows).toEqual([{ one: 1 }]);
    await database.db.execute(sql.raw(`insert into ${table} values ('later')`));
    expect(await labels()).toEqual(["later"]);
  });

  it("a transaction that has not started when the call ends never runs its body", async () => {
    await admin.unsafe(`truncate ${table}`);
    proxy.cut(); // the pool must connect again, and cannot while stalled
    proxy.stall();
    let ran = false;
    const controller = new AbortController();
    const tx = bindToSignal(database.db, controller.signal).transaction(async (t) => {
      ran = true;
      await t.execute(sql.raw(`insert into ${table} values ('in a transaction')`));
    });
    const outcome = tx.then(() => "committed", endedBy);
    controller.abort(reason());
    expect(await outcome).toBe("the call ended");
    proxy.resume();
    await eventually(async () => rowsOf(await database.db.execute(sql`select 1 as one`)).length === 1, "the pool serves again");
    expect(ran).toBe(false);
    expect(await labels()).toEqual([]);
  });

  it("a statement already running is cancelled in PostgreSQL", async () => {
    const controller = new AbortController();
    const sleeping = bindToSignal(database.db, controller.signal).execute(sql`select pg_sleep(30)`);
    const outcome = sleeping.then(() => "finished", (err: { code?: string; cause?: { code?: string } }) => err.cause?.code ?? err.code);
    await eventually(async () => (await admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where query like 'select pg_sleep(30)%' and state = 'active'`)[0]!.n === 1, "the statement running");
    controller.abort(reason());
    expect(await outcome).toBe("57014");
    expect(rowsOf(await database.db.execute(sql`select 1 as one`))).toEqual([{ one: 1 }]);
  });
});
