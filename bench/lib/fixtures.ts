import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { generateProviders } from "../../db/bulk-providers";
import type { Database } from "../../db/client";
import * as schema from "../../db/schema";
import { hashPassword } from "../../server/auth/passwords";
import { createSession } from "../../server/auth/sessions";
import { bindScope } from "../../server/db-scope";
import { api, signUp } from "./api";

const POLICY = { inactivityMs: 14 * 86_400_000, absoluteMs: 30 * 86_400_000 };

export type Agency = { tenant: { id: string; slug: string }; providers: Array<{ userId: string; token: string }>; clientTokens: string[] };

/**
 * An agency with `providers` published providers and `clients` clients, each with a session
 * token, made in bulk in the database (signing 10,000 people up over HTTP would measure argon2).
 */
export async function createAgency(opts: { baseUrl: string; appUrl: string; providers: number; clients: number; label: string }): Promise<Agency> {
  const owner = await signUp(opts.baseUrl, `${opts.label}-owner`);
  const tenant = await api(opts.baseUrl, { authorization: `Bearer ${owner.token}` }).mutate<{ id: string; slug: string }>("tenants.create", { name: `Bench ${opts.label} ${Date.now()}` });
  const client = postgres(opts.appUrl, { max: 8, onnotice: () => {} });
  const db = drizzle(client, { schema, casing: "snake_case" }) as unknown as Database;
  try {
    const passwordHash = await hashPassword("bench-passphrase-123");
    await generateProviders(db, { tenantId: tenant.id, count: Math.ceil(opts.providers / 0.95) + 20, passwordHash, tag: `${opts.label}${Date.now().toString(36)}` });
    const ids = await db.transaction(async (tx) => {
      await bindScope(tx, { tenantId: tenant.id });
      return tx
        .select({ userId: schema.providerProfiles.userId })
        .from(schema.providerProfiles)
        .where(and(eq(schema.providerProfiles.tenantId, tenant.id), eq(schema.providerProfiles.published, true)))
        .orderBy(schema.providerProfiles.id)
        .limit(opts.providers);
    });
    const clientRows = await db
      .insert(schema.users)
      .values(Array.from({ length: opts.clients }, (_, i) => ({ email: `${opts.label}-client-${Date.now().toString(36)}-${i}@bench.aiutami.test`, passwordHash, firstName: "Bench", lastName: `Client ${i}`, phone: "+39 02 0000 0000" })))
      .returning({ id: schema.users.id });
    await db.transaction(async (tx) => {
      await bindScope(tx, { tenantId: tenant.id });
      await tx.insert(schema.memberships).values(clientRows.map((c) => ({ tenantId: tenant.id, userId: c.id, role: "client" as const })));
    });
    const tokenFor = async (userId: string) => (await createSession({ db, userId, now: new Date(), policy: POLICY })).token;
    const providers: Agency["providers"] = [];
    for (let i = 0; i < ids.length; i += 200) {
      providers.push(...(await Promise.all(ids.slice(i, i + 200).map(async ({ userId }) => ({ userId, token: await tokenFor(userId) })))));
    }
    const clientTokens = await Promise.all(clientRows.map((c) => tokenFor(c.id)));
    return { tenant, providers, clientTokens };
  } finally {
    await client.end();
  }
}
