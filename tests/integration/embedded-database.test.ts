import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type OpenedDatabase } from "../../db/migrate";
import { memberships, tenants, users } from "../../db/schema";
import { bindScope } from "../../server/db-scope";

/** The embedded default (PGlite) runs the same migrations and the same row-level security. */
describe("embedded database", () => {
  let database: OpenedDatabase;
  beforeAll(async () => {
    database = await openPglite("memory://");
  }, 60_000);
  afterAll(() => database.close());

  it("runs as the app role after migrating, and RLS hides tenant rows until a tenant is bound", async () => {
    const { db } = database;
    const role = await db.execute<{ current_user: string }>(sql`select current_user`);
    expect(JSON.stringify(role)).toContain("aiutami_app");

    const [user] = await db.insert(users).values({ email: "a@b.test", passwordHash: "x", firstName: "A", lastName: "B" }).returning({ id: users.id });
    const ids: string[] = [];
    for (const slug of ["one", "two"]) {
      const id = crypto.randomUUID();
      ids.push(id);
      await db.transaction(async (tx) => {
        await bindScope(tx, { userId: user!.id, tenantId: id });
        await tx.insert(tenants).values({ id, slug, name: slug });
        await tx.insert(memberships).values({ tenantId: id, userId: user!.id, role: "owner" });
      });
    }
    expect(await db.select().from(tenants)).toEqual([]);
    expect(await db.select().from(memberships)).toEqual([]);
    const seen = await db.transaction(async (tx) => {
      await bindScope(tx, { tenantId: ids[0] });
      return tx.select({ slug: tenants.slug }).from(tenants);
    });
    expect(seen).toEqual([{ slug: "one" }]);
  });

});
