import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { BULK_CITIES, generateProviders } from "../../db/bulk-providers";
import type { Database } from "../../db/client";
import * as schema from "../../db/schema";
import { hashPassword } from "../../server/auth/passwords";
import { bindScope } from "../../server/db-scope";
import { searchProfiles } from "../../server/profiles/search";
import type { SearchProfilesInput } from "../../server/profiles/schemas";
import { api, signUp } from "../lib/api";
import { summarize } from "../lib/stats";

export type SearchOptions = { providers: number; queries: number; ownerUrl: string; appUrl: string; baseUrl: string };

const KINDS = ["tutor", "housekeeper", "senior_caregiver"] as const;
const RADII = [5, 10, 25, 50];

/** A radius search with a kind filter around a random city, as a client's app would send it. */
function randomQuery(i: number): SearchProfilesInput {
  const [, lat, lng] = BULK_CITIES[i % BULK_CITIES.length]!;
  const jitter = () => (Math.random() - 0.5) * 0.2;
  return { kind: KINDS[i % 3]!, near: { lat: lat + jitter(), lng: lng + jitter(), radiusKm: RADII[i % RADII.length]! }, sort: "distance", limit: 20 };
}

/** Runs the server's own search code once, capturing its SQL, then EXPLAIN ANALYZE as the server's role. */
async function explainSearch(appUrl: string, tenantId: string, input: SearchProfilesInput): Promise<{ plan: string; indexes: string[] }> {
  const captured: { query: string; params: unknown[] }[] = [];
  const client = postgres(appUrl, { max: 1, onnotice: () => {} });
  const db = drizzle(client, { schema, casing: "snake_case", logger: { logQuery: (query, params) => void captured.push({ query, params }) } }) as unknown as Database;
  try {
    const noStorage = { urlFor: (k: string) => k } as Parameters<typeof searchProfiles>[0]["storage"];
    await db.transaction(async (tx) => {
      await bindScope(tx, { tenantId });
      await searchProfiles({ db: tx, tenantId, input, storage: noStorage, cursorSecret: "bench-explain-only: no cursor is kept or checked" });
    });
    const search = captured.find((c) => c.query.includes("from \"provider_profiles\""));
    if (!search) throw new Error("search SQL not captured");
    const plan = await client.begin(async (tx) => {
      await tx`select set_config('app.tenant_id', ${tenantId}, true)`;
      await tx.unsafe("set local enable_bitmapscan = off");
      return tx.unsafe(`explain (analyze, costs off) ${search.query}`, search.params as never[]);
    });
    const text = plan.map((r) => r["QUERY PLAN"] as string).join("\n");
    return { plan: text, indexes: [...new Set([...text.matchAll(/using (\w+)/gi)].map((m) => m[1]!))] };
  } finally {
    await client.end();
  }
}

export async function runSearch(opts: SearchOptions) {
  const owner = await signUp(opts.baseUrl, "search-owner");
  const client = api(opts.baseUrl, { authorization: `Bearer ${owner.token}` });
  const tenant = await client.mutate<{ id: string; slug: string }>("tenants.create", { name: `Bench search ${Date.now()}` });

  const started = performance.now();
  const appClient = postgres(opts.appUrl, { max: 1, onnotice: () => {} });
  await generateProviders(drizzle(appClient, { schema, casing: "snake_case" }) as unknown as Database, {
    tenantId: tenant.id,
    count: opts.providers,
    passwordHash: await hashPassword("bench-passphrase-123"),
  });
  await appClient.end();
  const ownerClient = postgres(opts.ownerUrl, { max: 1, onnotice: () => {} });
  await ownerClient`analyze provider_profiles`;
  await ownerClient.end();
  const fixtureSeconds = (performance.now() - started) / 1000;

  const headers = { "x-tenant-id": tenant.slug };
  for (let i = 0; i < 50; i++) await client.query("profiles.search", randomQuery(i), headers); // warm-up
  const ms: number[] = [];
  let results = 0;
  for (let i = 0; i < opts.queries; i++) {
    const t0 = performance.now();
    const page = await client.query<{ items: unknown[] }>("profiles.search", randomQuery(i), headers);
    ms.push(performance.now() - t0);
    results += page.items.length;
  }
  const explain = await explainSearch(opts.appUrl, tenant.id, randomQuery(2));
  return {
    ...summarize(ms),
    providers: opts.providers,
    queries: opts.queries,
    meanResults: Math.round((results / opts.queries) * 10) / 10,
    fixtureSeconds: Math.round(fixtureSeconds * 10) / 10,
    indexesUsed: explain.indexes,
    plan: explain.plan,
  };
}

