/**
 * `npm run db:seed`: the demo tenant "demo" with an owner, clients and providers of all three
 * kinds in real cities. Safe to run twice: existing people and memberships are kept.
 * With the embedded database, stop the server first (one process at a time may open it).
 */
import { eq } from "drizzle-orm";
import { loadConfig } from "../server/config";
import { openConfiguredDatabase } from "../server/database";
import { hashPassword } from "../server/auth/passwords";
import { bindScope, withUserScope } from "../server/db-scope";
import { addMember, createTenant } from "../server/tenants/service";
import { findMembership, type TenantRole } from "../server/tenants/resolve";
import type { Database } from "./client";
import { users } from "./schema";

export const DEMO_PASSWORD = "aiutami-demo-2026";
export const DEMO_TENANT = { slug: "demo", name: "Aiutami Demo Agency" };

type Person = { email: string; firstName: string; lastName: string; phone: string; role: TenantRole; city: string; kind?: string };

export const DEMO_PEOPLE: Person[] = [
  { email: "owner@demo.aiutami.test", firstName: "Sofia", lastName: "Conti", phone: "+39 02 5550 0101", role: "owner", city: "Milan" },
  { email: "admin@demo.aiutami.test", firstName: "Luca", lastName: "Ferrari", phone: "+39 02 5550 0102", role: "admin", city: "Milan" },
  { email: "client@demo.aiutami.test", firstName: "James", lastName: "Harold", phone: "+33 6 5487 5480", role: "client", city: "Milan" },
  { email: "client2@demo.aiutami.test", firstName: "Amina", lastName: "Benali", phone: "+39 06 5550 0201", role: "client", city: "Rome" },
  { email: "tutor@demo.aiutami.test", firstName: "Giulia", lastName: "Bianchi", phone: "+39 02 5550 0301", role: "provider", city: "Milan", kind: "tutor" },
  { email: "housekeeper@demo.aiutami.test", firstName: "Marta", lastName: "Russo", phone: "+39 06 5550 0302", role: "provider", city: "Rome", kind: "housekeeper" },
  { email: "caregiver@demo.aiutami.test", firstName: "Paolo", lastName: "Greco", phone: "+39 011 5550 0303", role: "provider", city: "Turin", kind: "senior_caregiver" },
  { email: "caregiver2@demo.aiutami.test", firstName: "Elena", lastName: "Marino", phone: "+39 02 5550 0304", role: "provider", city: "Milan", kind: "senior_caregiver" },
];

const SEED_ACTOR = { userId: null, sessionId: null, ip: null, userAgent: "db:seed", requestId: "seed" };

async function ensureUser(db: Database, person: Person, passwordHash: string): Promise<string> {
  const [existing] = await db.select({ id: users.id }).from(users).where(eq(users.email, person.email));
  if (existing) return existing.id;
  const [created] = await db
    .insert(users)
    .values({ email: person.email, passwordHash, firstName: person.firstName, lastName: person.lastName, phone: person.phone })
    .returning({ id: users.id });
  return created!.id;
}

export async function seedDemo(db: Database): Promise<{ tenantId: string; people: Array<Person & { id: string }> }> {
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  const people: Array<Person & { id: string }> = [];
  for (const person of DEMO_PEOPLE) people.push({ ...person, id: await ensureUser(db, person, passwordHash) });
  const owner = people[0]!;

  let membership = await withUserScope(db, owner.id, (tx) => findMembership(tx, { userId: owner.id, ref: DEMO_TENANT.slug }));
  if (!membership) {
    await createTenant({ db, userId: owner.id, input: { name: DEMO_TENANT.name, slug: DEMO_TENANT.slug }, actor: { ...SEED_ACTOR, userId: owner.id } });
    membership = await withUserScope(db, owner.id, (tx) => findMembership(tx, { userId: owner.id, ref: DEMO_TENANT.slug }));
  }
  const tenantId = membership!.tenant.id;
  for (const person of people.slice(1)) {
    await db.transaction(async (tx) => {
      await bindScope(tx, { userId: owner.id, tenantId });
      const known = await findMembership(tx, { userId: person.id, ref: tenantId });
      if (!known) {
        await addMember({ db: tx, tenantId, actorRole: "owner", actor: { ...SEED_ACTOR, userId: owner.id }, input: { email: person.email, role: person.role } });
      }
    });
  }
  return { tenantId, people };
}

async function main() {
  const config = loadConfig();
  const database = await openConfiguredDatabase(config);
  try {
    const { people } = await seedDemo(database.db);
    console.log(`Seeded tenant "${DEMO_TENANT.slug}" (${DEMO_TENANT.name}). Every login uses the password ${DEMO_PASSWORD}:`);
    for (const p of people) console.log(`  ${p.role.padEnd(8)} ${p.email.padEnd(32)} ${p.firstName} ${p.lastName}, ${p.city}${p.kind ? ` (${p.kind})` : ""}`);
  } finally {
    await database.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
