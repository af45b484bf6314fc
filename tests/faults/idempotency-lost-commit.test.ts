/**
 * The ambiguous commit: a hire that PostgreSQL committed but whose answer never reached the server (its
 * connection cut right after COMMIT), or never reached the client (the HTTP connection cut once the
 * request was sent). The caller cannot tell it from a hire that failed; retried with the same
 * Idempotency-Key, it answers the hire that was committed, and there is still exactly one hire and one
 * notification, which the relay delivers. A proxy in front of the real PostgreSQL, and one in front of
 * the HTTP server, make the cut.
 */
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CuttingProxy } from "../helpers/cutting-proxy";
import { unique } from "../helpers/factories";
import { createMarketplace, hireInput, type Marketplace } from "../helpers/hiring";
import { eventually } from "../helpers/sockets";
import { openOwnerSql, startTestApp, type TestApp } from "../helpers/test-app";
import { fileDatabaseUrl } from "../helpers/file-database";

/** PostgreSQL's ReadyForQuery (idle): it follows a statement's COMMIT. */
const READY_FOR_QUERY = "Z\u0000\u0000\u0000\u0005I";

let pgProxy: CuttingProxy;
let httpProxy: CuttingProxy;
let app: TestApp;
let owner: postgres.Sql;
let m: Marketplace;
beforeAll(async () => {
  const target = new URL(fileDatabaseUrl());
  pgProxy = await new CuttingProxy({ host: target.hostname, port: Number(target.port || 5432) }).start();
  const proxied = new URL(target);
  proxied.host = `127.0.0.1:${pgProxy.port}`;
  app = await startTestApp({ DATABASE_URL: proxied.toString() });
  httpProxy = await new CuttingProxy({ host: "127.0.0.1", port: Number(new URL(app.server.baseUrl).port) }).start();
  owner = openOwnerSql(); // straight to PostgreSQL, around the proxy
  m = await createMarketplace(app.env);
});
afterAll(async () => {
  await owner?.end();
  await app?.close();
  await httpProxy?.stop();
  await pgProxy?.stop();
});

type Answer = { status: number; replayed: string | null; id?: string; error?: { message: string; data: { code: string } } };
async function hireOverHttp(baseUrl: string, key: string, input: unknown): Promise<Answer> {
  const res = await fetch(`${baseUrl}/trpc/hires.create`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${m.client.token}`, "x-tenant-id": m.tenant.slug, "idempotency-key": key },
    body: JSON.stringify(input),
  });
  const body = (await res.json()) as { result?: { data: { id: string } }; error?: Answer["error"] };
  return { status: res.status, replayed: res.headers.get("idempotent-replayed"), id: body.result?.data.id, error: body.error };
}

const hiresWith = async (job: string) => owner<Array<{ id: string }>>`select id from hires where job_description = ${job}`;
const notificationsOf = async (hireId: string) => owner<Array<{ streamed: boolean }>>`select streamed_at is not null as streamed from notifications where payload->>'hireId' = ${hireId}`;

describe("fault: the answer of a committed hire is lost", () => {
  it("the server's connection to PostgreSQL is cut right after COMMIT: the call fails, the retry with its key answers the committed hire", async () => {
    const job = `Lost commit ${unique()}, an afternoon walk`;
    const input = { ...hireInput(m.provider.id), jobDescription: job };
    const key = unique("k");
    // The statement's answer carries the hire's payload, so the job description marks it.
    const cut = pgProxy.cutReply({ replyHas: job, replyEnd: READY_FOR_QUERY });
    const first = await hireOverHttp(app.server.baseUrl, key, input);
    await cut;
    expect(first.status).toBe(503);
    expect(first.error?.message).toBe("The database is unavailable: try again shortly.");
    // It committed all the same: the ambiguous case.
    const committed = await hiresWith(job);
    expect(committed).toHaveLength(1);

    const retry = await hireOverHttp(app.server.baseUrl, key, input);
    expect(retry).toMatchObject({ status: 200, replayed: "true", id: committed[0]!.id });
    expect(await hiresWith(job)).toHaveLength(1);
    expect(await notificationsOf(committed[0]!.id)).toHaveLength(1);
    // Nobody published it (the first call never learned of its commit, a replay publishes nothing):
    // the relay streams it on its own.
    await eventually(async () => (await notificationsOf(committed[0]!.id))[0]?.streamed === true, "the relay streams the notification", 15_000);
  });

  it("tenants.create, an explicit transaction: its COMMIT's answer is cut, and the retry with its key answers the committed tenant", async () => {
    const name = `Lost commit agency ${unique()}`;
    const key = unique("k");
    const create = () =>
      fetch(`${app.server.baseUrl}/trpc/tenants.create`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${m.client.token}`, "idempotency-key": key },
        body: JSON.stringify({ name }),
      });
    // The connection that sent the tenant's name: its next answer holding COMMIT's completion is lost.
    const cut = pgProxy.cutReply({ afterRequest: name, replyHas: "COMMIT\u0000", replyEnd: READY_FOR_QUERY });
    const first = await create();
    await cut;
    expect(first.status).toBe(503);
    const committed = await owner<Array<{ id: string }>>`select id from tenants where name = ${name}`;
    expect(committed).toHaveLength(1);
    const retry = await create();
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(((await retry.json()) as { result: { data: { id: string } } }).result.data.id).toBe(committed[0]!.id);
    expect(await owner`select id from tenants where name = ${name}`).toHaveLength(1);
  });

  it("without a key the same cut and retry make a second hire: what the key prevents", async () => {
    const job = `Lost commit, no key ${unique()}, an afternoon walk`;
    const input = { ...hireInput(m.provider.id), jobDescription: job };
    const cut = pgProxy.cutReply({ replyHas: job, replyEnd: READY_FOR_QUERY });
    const unkeyed = (url: string) =>
      fetch(`${url}/trpc/hires.create`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${m.client.token}`, "x-tenant-id": m.tenant.slug },
        body: JSON.stringify(input),
      });
    expect((await unkeyed(app.server.baseUrl)).status).toBe(503);
    await cut;
    expect((await unkeyed(app.server.baseUrl)).status).toBe(200);
    expect(await hiresWith(job)).toHaveLength(2);
  });

  it("the client's HTTP connection is cut after sending: the retry with its key answers the same hire", async () => {
    const job = `Lost answer ${unique()}, an afternoon walk`;
    const input = { ...hireInput(m.provider.id), jobDescription: job };
    const key = unique("k");
    const cut = httpProxy.cutReply({ afterRequest: "POST /trpc/hires.create" });
    const lost = await hireOverHttp(httpProxy.httpUrl, key, input).then(() => null, (e: unknown) => e);
    await cut;
    expect(lost).toBeInstanceOf(TypeError); // fetch failed: no answer at all
    const committed = await hiresWith(job);
    expect(committed).toHaveLength(1);

    const retry = await hireOverHttp(httpProxy.httpUrl, key, input);
    expect(retry).toMatchObject({ status: 200, replayed: "true", id: committed[0]!.id });
    expect(await hiresWith(job)).toHaveLength(1);
    expect(await notificationsOf(committed[0]!.id)).toHaveLength(1);
  });
});
