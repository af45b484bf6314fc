/**
 * `npm run db:seed`: the demo tenant "demo" with an owner, clients and providers of all three
 * kinds in real cities. Safe to run twice: existing people and memberships are kept.
 * With the embedded database, stop the server first (one process at a time may open it).
 */
import { and, eq } from "drizzle-orm";
import { loadConfig } from "../server/config";
import { openConfiguredDatabase } from "../server/database";
import { hashPassword } from "../server/auth/passwords";
import { bindScope } from "../server/db-scope";
import { recordAudit } from "../server/audit/service";
import { createTenant } from "../server/tenants/service";
import { enterTenant, type TenantRole } from "../server/tenants/resolve";
import { parseArgs } from "node:util";
import { hashPassword as hash } from "../server/auth/passwords";
import { upsertMyProfile } from "../server/profiles/service";
import type { UpsertProfileInput } from "../server/profiles/schemas";
import { generateProviders } from "./bulk-providers";
import type { Database } from "./client";
import { memberships, providerProfiles, users } from "./schema";

export const DEMO_PASSWORD = "aiutami-demo-2026";
export const DEMO_TENANT = { slug: "demo", name: "Aiutami Demo Agency" };

type Person = { email: string; firstName: string; lastName: string; phone: string; role: TenantRole; city: string; profile?: UpsertProfileInput };

const shared = {
  about: "",
  currency: "EUR",
  availability: [{ day: "mon" as const, start: "09:00", end: "13:00" }, { day: "thu" as const, start: "14:00", end: "18:00" }],
  education: [],
  experiences: [],
  published: true,
};

export const DEMO_PEOPLE: Person[] = [
  { email: "owner@demo.aiutami.test", firstName: "Sofia", lastName: "Conti", phone: "+39 02 5550 0101", role: "owner", city: "Milan" },
  { email: "admin@demo.aiutami.test", firstName: "Luca", lastName: "Ferrari", phone: "+39 02 5550 0102", role: "admin", city: "Milan" },
  { email: "client@demo.aiutami.test", firstName: "James", lastName: "Harold", phone: "+33 6 5487 5480", role: "client", city: "Milan" },
  { email: "client2@demo.aiutami.test", firstName: "Amina", lastName: "Benali", phone: "+39 06 5550 0201", role: "client", city: "Rome" },
  {
    email: "tutor@demo.aiutami.test", firstName: "Giulia", lastName: "Bianchi", phone: "+39 02 5550 0301", role: "provider", city: "Milan",
    profile: { ...shared, kind: "tutor", headline: "Maths and physics tutor for high school and university", hourlyRateCents: 3000, city: "Milan", lat: 45.4642, lng: 9.19, serviceRadiusKm: 15, subjects: ["maths", "physics"], levels: ["high_school", "university"], schoolYears: [9, 10, 11, 12, 13], education: [{ institution: "Politecnico di Milano", title: "MSc Physics", from: "2012", to: "2014" }] },
  },
  {
    email: "housekeeper@demo.aiutami.test", firstName: "Marta", lastName: "Russo", phone: "+39 06 5550 0302", role: "provider", city: "Rome",
    profile: { ...shared, kind: "housekeeper", headline: "Housekeeper: cleaning, laundry, ironing and cooking", hourlyRateCents: 1500, city: "Rome", lat: 41.9028, lng: 12.4964, serviceRadiusKm: 10, tasks: ["cleaning", "laundry", "ironing", "cooking"] },
  },
  {
    email: "caregiver@demo.aiutami.test", firstName: "Paolo", lastName: "Greco", phone: "+39 011 5550 0303", role: "provider", city: "Turin",
    profile: { ...shared, kind: "senior_caregiver", headline: "Senior caregiver with a car: visits, errands and company", hourlyRateCents: 2000, city: "Turin", lat: 45.0703, lng: 7.6869, serviceRadiusKm: 25, services: ["transportation", "companionship", "household_tasks"] },
  },
  {
    email: "caregiver2@demo.aiutami.test", firstName: "Elena", lastName: "Marino", phone: "+39 02 5550 0304", role: "provider", city: "Milan",
    profile: { ...shared, kind: "senior_caregiver", headline: "Nurse: personal care, mobility and dementia support", hourlyRateCents: 2800, city: "Milan", lat: 45.4781, lng: 9.2273, serviceRadiusKm: 20, services: ["personal_care", "mobility_assistance", "specialized_care", "companionship"], experiences: [{ institution: "Ospedale Niguarda", title: "Nurse", from: "2009", to: "2019" }] },
  },
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

export async function seedDemo(db: Database, opts: { providers?: number } = {}): Promise<{ tenantId: string; people: Array<Person & { id: string }> }> {
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  const people: Array<Person & { id: string }> = [];
  for (const person of DEMO_PEOPLE) people.push({ ...person, id: await ensureUser(db, person, passwordHash) });
  const owner = people[0]!;

  const findDemo = () => db.transaction((tx) => enterTenant({ db: tx, userId: owner.id, ref: DEMO_TENANT.slug }));
  let membership = await findDemo();
  if (!membership) {
    await db.transaction((tx) => createTenant({ db: tx, userId: owner.id, input: { name: DEMO_TENANT.name, slug: DEMO_TENANT.slug }, actor: { ...SEED_ACTOR, userId: owner.id } }));
    membership = await findDemo();
  }
  const tenantId = membership!.tenant.id;
  for (const person of people.slice(1)) {
    await db.transaction(async (tx) => {
      await bindScope(tx, { userId: owner.id, tenantId });
      const [known] = await tx.select({ role: memberships.role }).from(memberships).where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, person.id)));
      if (!known) {
        // Demo people join directly, with no invitation to accept: the seed runs as the operator.
        await tx.insert(memberships).values({ tenantId, userId: person.id, role: person.role });
        await recordAudit({ db: tx, actor: { ...SEED_ACTOR, userId: owner.id }, tenantId, action: "membership.add", entityType: "membership", entityId: person.id, changes: { role: person.role } });
      }
    });
  }
  for (const person of people.filter((p) => p.profile)) {
    await db.transaction(async (tx) => {
      await bindScope(tx, { userId: person.id, tenantId });
      const [existing] = await tx.select({ id: providerProfiles.id }).from(providerProfiles).where(eq(providerProfiles.userId, person.id));
      if (existing) return;
      await upsertMyProfile({ db: tx, tenantId, userId: person.id, input: person.profile!, actor: { ...SEED_ACTOR, userId: person.id }, storage: NO_STORAGE });
    });
  }
  if (opts.providers) await generateProviders(db, { tenantId, count: opts.providers, passwordHash: await hash(DEMO_PASSWORD) });
  return { tenantId, people };
}

/** The seed writes no pictures; profile output only asks storage for URLs of pictures that exist. */
const NO_STORAGE = { urlFor: (key: string) => key } as unknown as Parameters<typeof upsertMyProfile>[0]["storage"];

async function main() {
  const { values } = parseArgs({ options: { providers: { type: "string" } } });
  const providers = values.providers === undefined ? 0 : Number(values.providers);
  if (!Number.isInteger(providers) || providers < 0 || providers > 1_000_000) {
    console.error("--providers must be a whole number from 0 to 1000000");
    process.exit(1);
  }
  const config = loadConfig();
  const database = await openConfiguredDatabase(config);
  const started = Date.now();
  try {
    const { people } = await seedDemo(database.db, { providers });
    console.log(`Seeded tenant "${DEMO_TENANT.slug}" (${DEMO_TENANT.name}). Every login uses the password ${DEMO_PASSWORD}:`);
    for (const p of people) console.log(`  ${p.role.padEnd(8)} ${p.email.padEnd(32)} ${p.firstName} ${p.lastName}, ${p.city}${p.profile ? ` (${p.profile.kind})` : ""}`);
    if (providers) console.log(`  + ${providers} generated providers with profiles across ${"16"} Italian cities`);
    console.log(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  } finally {
    await database.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main().catch((err: unknown) => {
    // One clear line (e.g. "the embedded database is in use by process N"), not a stack trace.
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
