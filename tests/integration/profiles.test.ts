import { type TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ZodError } from "zod";
import { zodIssues, type AppError } from "../../server/errors";
import { addMember, createTenant, type TestTenant, type TestUser } from "../helpers/factories";
import { CITIES, createProvider, profileInput } from "../helpers/profiles";
import { callerAs, createTestEnv, type TestEnv } from "../helpers/test-app";

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(() => env.close());

const codeOf = (p: Promise<unknown>) => p.then(() => "OK", (e: TRPCError) => e.code);

describe("profiles.upsertMine, mine and get", () => {
  let tenant: TestTenant;
  let provider: TestUser;
  let client: TestUser;
  beforeAll(async () => {
    tenant = await createTenant(env);
    provider = await addMember(env, tenant, "provider");
    client = await addMember(env, tenant, "client");
  });

  it("a provider creates a profile of each kind's shape, and replacing the kind clears the other attributes", async () => {
    const as = callerAs(env, provider.auth, { tenant: tenant.slug });
    const tutor = await as.profiles.upsertMine(
      profileInput("tutor", "milan", {
        subjects: ["Maths", "physics"],
        levels: ["high_school", "university"],
        schoolYears: [11, 12],
        availability: [{ day: "tue", start: "15:00", end: "18:00" }],
        education: [{ institution: "Università di Pavia", title: "BSc Mathematics", from: "2012", to: "2015" }],
      }),
    );
    expect(tutor).toMatchObject({ kind: "tutor", subjects: ["maths", "physics"], levels: ["high_school", "university"], schoolYears: [11, 12], lat: 45.4642, lng: 9.19 });
    const caregiver = await as.profiles.upsertMine(profileInput("senior_caregiver", "milan", { services: ["transportation", "companionship"] }));
    expect(caregiver.id).toBe(tutor.id);
    expect(caregiver).toMatchObject({ kind: "senior_caregiver", services: ["transportation", "companionship"] });
    expect(caregiver).not.toHaveProperty("subjects");
    expect(await as.profiles.mine()).toMatchObject({ id: tutor.id, kind: "senior_caregiver" });
  });

  it("members see a published profile without email, phone or exact coordinates", async () => {
    const { user, profile } = await createProvider(env, tenant, profileInput("housekeeper", "monza", { tasks: ["cleaning", "ironing"] }));
    const seen = await callerAs(env, client.auth, { tenant: tenant.slug }).profiles.get({ id: profile.id });
    expect(seen).toMatchObject({ id: profile.id, userId: user.id, kind: "housekeeper", tasks: ["cleaning", "ironing"], firstName: "Test", lat: 45.58, lng: 9.27 });
    const text = JSON.stringify(seen);
    expect(text).not.toContain(user.email);
    expect(text).not.toMatch(/phone|email|password/i);
  });

  it("an unpublished profile is seen by its provider and the tenant's staff only", async () => {
    const { user, profile } = await createProvider(env, tenant, profileInput("tutor", "pavia", { published: false }));
    expect(await codeOf(callerAs(env, client.auth, { tenant: tenant.slug }).profiles.get({ id: profile.id }))).toBe("NOT_FOUND");
    expect(await codeOf(callerAs(env, user.auth, { tenant: tenant.slug }).profiles.get({ id: profile.id }))).toBe("OK");
    expect(await codeOf(callerAs(env, tenant.owner.auth, { tenant: tenant.slug }).profiles.get({ id: profile.id }))).toBe("OK");
  });

  it("another tenant's profile answers as not found, even by its exact id", async () => {
    const other = await createTenant(env);
    const { profile } = await createProvider(env, other, profileInput("tutor", "rome"));
    expect(await codeOf(callerAs(env, client.auth, { tenant: tenant.slug }).profiles.get({ id: profile.id }))).toBe("NOT_FOUND");
  });

  it("refuses clients, another kind's attributes, and any attempt to name another user", async () => {
    expect(await codeOf(callerAs(env, client.auth, { tenant: tenant.slug }).profiles.upsertMine(profileInput("tutor", "milan")))).toBe("FORBIDDEN");
    const as = callerAs(env, provider.auth, { tenant: tenant.slug });
    const wrongKind = (await as.profiles.upsertMine({ ...profileInput("tutor", "milan"), services: ["companionship"] } as never).catch((e) => e)) as TRPCError;
    expect(wrongKind.code).toBe("BAD_REQUEST");
    expect(zodIssues(wrongKind.cause as ZodError)).toContainEqual({ path: "services", message: "is a senior_caregiver attribute: it does not fit this profile's kind" });
    const other = await addMember(env, tenant, "provider");
    const hijack = (await as.profiles.upsertMine({ ...profileInput("tutor", "milan"), userId: other.id } as never).catch((e) => e)) as TRPCError;
    expect(hijack.code).toBe("BAD_REQUEST");
    expect(await callerAs(env, other.auth, { tenant: tenant.slug }).profiles.mine()).toBeNull();
  });

  it("writes an audit row naming the changed fields", async () => {
    const { profile, user } = await createProvider(env, tenant, profileInput("tutor", "milan"));
    await callerAs(env, user.auth, { tenant: tenant.slug }).profiles.upsertMine(profileInput("tutor", "milan", { hourlyRateCents: 4200, headline: "Physics, exam coaching" }));
    const { items } = await callerAs(env, tenant.owner.auth, { tenant: tenant.slug }).audit.list({ entityType: "provider_profile", limit: 100 });
    const mine = items.filter((i) => i.entityId === profile.id);
    expect(mine.map((i) => i.action)).toEqual(["profile.update", "profile.create"]);
    expect(mine[0]!.changes).toEqual({ fields: ["headline", "hourlyRateCents"] });
  });
});

describe("profiles.search", () => {
  let tenant: TestTenant;
  let client: TestUser;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    tenant = await createTenant(env);
    client = await addMember(env, tenant, "client");
    const make = async (name: string, input: ReturnType<typeof profileInput>) => {
      ids[name] = (await createProvider(env, tenant, input)).profile.id;
    };
    await make("careMilan", profileInput("senior_caregiver", "milan", { services: ["transportation", "companionship", "personal_care"], hourlyRateCents: 2200, headline: "Gentle care for your parents", about: "Dementia experience, driving licence." }));
    await make("careMonza", profileInput("senior_caregiver", "monza", { services: ["companionship"], hourlyRateCents: 1800 }));
    await make("carePavia", profileInput("senior_caregiver", "pavia", { services: ["transportation", "companionship"], hourlyRateCents: 2200 }));
    await make("careBergamo", profileInput("senior_caregiver", "bergamo", { services: ["transportation", "companionship", "specialized_care"], hourlyRateCents: 3000 }));
    await make("careTurin", profileInput("senior_caregiver", "turin", { services: ["transportation", "companionship"], hourlyRateCents: 2000 }));
    await make("careRome", profileInput("senior_caregiver", "rome", { services: ["transportation", "companionship"], hourlyRateCents: 2600 }));
    await make("careHidden", profileInput("senior_caregiver", "milan", { services: ["transportation", "companionship"], published: false }));
    await make("tutorMaths", profileInput("tutor", "milan", { subjects: ["maths", "physics"], levels: ["high_school", "university"], hourlyRateCents: 3500, headline: "Maths tutor for exams" }));
    await make("tutorLatin", profileInput("tutor", "milan", { subjects: ["latin"], levels: ["high_school"], hourlyRateCents: 3000 }));
    await make("tutorPrimary", profileInput("tutor", "monza", { subjects: ["maths"], levels: ["primary"], hourlyRateCents: 2000 }));
    await make("houseIron", profileInput("housekeeper", "milan", { tasks: ["cleaning", "ironing", "laundry"], hourlyRateCents: 1500 }));
    await make("houseClean", profileInput("housekeeper", "monza", { tasks: ["cleaning"], hourlyRateCents: 1400 }));
    // Another tenant's caregiver in Milan must never appear.
    const other = await createTenant(env);
    await createProvider(env, other, profileInput("senior_caregiver", "milan", { services: ["transportation", "companionship"] }));
  });

  const search = (input: Parameters<ReturnType<typeof callerAs>["profiles"]["search"]>[0]) =>
    callerAs(env, client.auth, { tenant: tenant.slug }).profiles.search(input);
  const names = (items: { id: string }[]) => items.map((i) => Object.entries(ids).find(([, id]) => id === i.id)?.[0] ?? "foreign");

  it("filters by kind, and a caregiver offering more services than asked still matches", async () => {
    const { items } = await search({ kind: "senior_caregiver", services: ["transportation", "companionship"], limit: 50 });
    expect(new Set(names(items))).toEqual(new Set(["careMilan", "carePavia", "careBergamo", "careTurin", "careRome"]));
  });

  it("a tutor matches any asked subject at the asked level", async () => {
    expect(new Set(names((await search({ kind: "tutor", subjects: ["maths", "latin"], levels: ["high_school"] })).items))).toEqual(new Set(["tutorMaths", "tutorLatin"]));
    expect(names((await search({ kind: "tutor", subjects: ["maths"], levels: ["primary"] })).items)).toEqual(["tutorPrimary"]);
  });

  it("a housekeeper must do every asked task", async () => {
    expect(names((await search({ kind: "housekeeper", tasks: ["cleaning", "ironing"] })).items)).toEqual(["houseIron"]);
  });

  it("filters by hourly rate and by free text", async () => {
    const { items } = await search({ kind: "senior_caregiver", minRateCents: 2000, maxRateCents: 2200 });
    expect(new Set(names(items))).toEqual(new Set(["careMilan", "carePavia", "careTurin"]));
    expect(names((await search({ text: "dementia driving" })).items)).toEqual(["careMilan"]);
    expect(names((await search({ text: "exams", kind: "tutor" })).items)).toEqual(["tutorMaths"]);
  });

  it("near a point: within the radius only, nearest first, with great-circle distances that match known city pairs", async () => {
    const { items } = await search({ kind: "senior_caregiver", near: { ...CITIES.milan, radiusKm: 50 } });
    expect(names(items)).toEqual(["careMilan", "careMonza", "carePavia", "careBergamo"]);
    const far = await search({ kind: "senior_caregiver", near: { ...CITIES.milan, radiusKm: 600 } });
    const km = Object.fromEntries(names(far.items).map((n, i) => [n, far.items[i]!.distanceKm]));
    // Great-circle distances: Milan-Turin ~126 km, Milan-Rome ~477 km, Milan-Monza ~15 km. They run from
    // the providers' public points (45.46, 9.19 for the exact 45.4642, 9.19), to 0.1 km.
    expect(km.careMilan).toBe(0.5);
    for (const d of Object.values(km)) expect(Math.round(d! * 10)).toBe(d! * 10);
    expect(km.careMonza).toBeGreaterThan(14);
    expect(km.careMonza).toBeLessThan(16);
    expect(km.careTurin).toBeGreaterThan(124);
    expect(km.careTurin).toBeLessThan(128);
    expect(km.careRome).toBeGreaterThan(472);
    expect(km.careRome).toBeLessThan(482);
    expect(names(far.items).at(-1)).toBe("careRome");
  });

  it("sorts by rate and by newest", async () => {
    const byRate = await search({ kind: "senior_caregiver", sort: "rate" });
    expect(byRate.items.map((i) => i.hourlyRateCents)).toEqual([1800, 2000, 2200, 2200, 2600, 3000]);
    const newest = await search({ kind: "housekeeper", sort: "newest" });
    expect(names(newest.items)).toEqual(["houseClean", "houseIron"]);
  });

  it("pages with a cursor, neither repeating nor skipping, for every sort", async () => {
    const base = { kind: "senior_caregiver" as const, near: { ...CITIES.milan, radiusKm: 1000 } };
    for (const sort of ["distance", "rate", "newest"] as const) {
      const all = (await search({ ...base, sort, limit: 50 })).items.map((i) => i.id);
      const paged: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 10; pages++) {
        const page = await search({ ...base, sort, limit: 2, ...(cursor ? { cursor } : {}) });
        paged.push(...page.items.map((i) => i.id));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect({ sort, paged }).toEqual({ sort, paged: all });
      expect(all).toHaveLength(6);
    }
  });

  it("pages through providers at exactly the same distance (one grid cell, more than a page reads at once) without repeats or skips", async () => {
    // Twelve homes spread over the cell of 45.86, 9.40: all at one public point, so one distance.
    const made: string[] = [];
    for (let i = 0; i < 12; i++) {
      const spot = { city: "Lecco", lat: 45.8551 + (i % 4) * 0.0032, lng: 9.3951 + Math.floor(i / 4) * 0.0045 };
      made.push((await createProvider(env, tenant, profileInput("housekeeper", "milan", { ...spot, tasks: ["gardening"] }))).profile.id);
    }
    const paged: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await search({ kind: "housekeeper", tasks: ["gardening"], near: { lat: 45.9, lng: 9.4, radiusKm: 20 }, limit: 2, ...(cursor ? { cursor } : {}) });
      paged.push(...page.items.map((i) => i.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(paged).toEqual([...made].sort());
  });

  it("refuses a cursor from another sort, other filters, another tenant, or altered; distance sort without a point, and more than 50 a page", async () => {
    const first = await search({ kind: "senior_caregiver", sort: "rate", limit: 1 });
    const elsewhere = await createTenant(env);
    const refusals = [
      () => search({ kind: "senior_caregiver", sort: "newest", cursor: first.nextCursor! }),
      () => search({ kind: "senior_caregiver", sort: "rate", maxRateCents: 5000, cursor: first.nextCursor! }),
      () => search({ kind: "senior_caregiver", sort: "rate", cursor: `${first.nextCursor!.slice(0, -2)}AA` }),
      () => callerAs(env, elsewhere.owner.auth, { tenant: elsewhere.slug }).profiles.search({ kind: "senior_caregiver", sort: "rate", cursor: first.nextCursor! }),
    ];
    for (const refusal of refusals) {
      const err = (await refusal().catch((e) => e)) as TRPCError;
      expect(err.code).toBe("BAD_REQUEST");
      expect(err.message).toMatch(/cursor/);
      expect((err.cause as AppError).details.issues).toEqual([{ path: "cursor", message: expect.stringContaining("not a cursor") }]);
    }
    // The same cursor in the same search goes on.
    expect((await search({ kind: "senior_caregiver", sort: "rate", limit: 1, cursor: first.nextCursor! })).items[0]!.hourlyRateCents).toBe(2000);
    expect(await codeOf(search({ sort: "distance" }))).toBe("BAD_REQUEST");
    expect(await codeOf(search({ limit: 51 }))).toBe("BAD_REQUEST");
    expect(await codeOf(search({ services: ["companionship"] }))).toBe("BAD_REQUEST");
  });
});

describe("a removed or demoted provider leaves search and get at once", () => {
  it("takes the profile out of search and get for every other member, as soon as the membership changes", async () => {
    const tenant = await createTenant(env);
    const client = await addMember(env, tenant, "client");
    const admin = await addMember(env, tenant, "admin");
    const { user: demoted, profile: demotedProfile } = await createProvider(env, tenant, profileInput("tutor", "milan", { subjects: ["chemistry"] }));
    const { user: removed, profile: removedProfile } = await createProvider(env, tenant, profileInput("tutor", "milan", { subjects: ["chemistry"] }));
    const { profile: stays } = await createProvider(env, tenant, profileInput("tutor", "milan", { subjects: ["chemistry"] }));
    const viewers = [client, admin, tenant.owner].map((u) => callerAs(env, u.auth, { tenant: tenant.slug }));
    const query = { kind: "tutor" as const, subjects: ["chemistry"], near: { ...CITIES.milan, radiusKm: 5 } };
    const found = async () => Promise.all(viewers.map(async (v) => new Set((await v.profiles.search(query)).items.map((i) => i.id))));
    for (const seen of await found()) expect(seen).toEqual(new Set([demotedProfile.id, removedProfile.id, stays.id]));

    const asOwner = callerAs(env, tenant.owner.auth, { tenant: tenant.slug });
    await asOwner.tenants.members.setRole({ userId: demoted.id, role: "client" });
    await asOwner.tenants.members.remove({ userId: removed.id });

    for (const seen of await found()) expect(seen).toEqual(new Set([stays.id]));
    for (const v of viewers) {
      expect(await codeOf(v.profiles.get({ id: demotedProfile.id }))).toBe("NOT_FOUND");
      expect(await codeOf(v.profiles.get({ id: removedProfile.id }))).toBe("NOT_FOUND");
      expect(await codeOf(v.profiles.get({ id: stays.id }))).toBe("OK");
      for (const sort of ["rate", "newest"] as const) {
        expect((await v.profiles.search({ kind: "tutor", subjects: ["chemistry"], sort })).items.map((i) => i.id)).toEqual([stays.id]);
      }
    }
    // The demoted member still sees their own profile; made a provider again, it is back.
    expect(await callerAs(env, demoted.auth, { tenant: tenant.slug }).profiles.get({ id: demotedProfile.id })).toMatchObject({ id: demotedProfile.id });
    await asOwner.tenants.members.setRole({ userId: demoted.id, role: "provider" });
    for (const seen of await found()) expect(seen).toEqual(new Set([demotedProfile.id, stays.id]));
  });
});
