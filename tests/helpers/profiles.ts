import type { UpsertProfileInput } from "../../server/profiles/schemas";
import { addMember, type TestTenant, type TestUser } from "./factories";
import { callerAs, type TestEnv } from "./test-app";

export const CITIES = {
  milan: { city: "Milan", lat: 45.4642, lng: 9.19 },
  monza: { city: "Monza", lat: 45.5845, lng: 9.2744 },
  pavia: { city: "Pavia", lat: 45.1847, lng: 9.1582 },
  bergamo: { city: "Bergamo", lat: 45.6983, lng: 9.6773 },
  turin: { city: "Turin", lat: 45.0703, lng: 7.6869 },
  rome: { city: "Rome", lat: 41.9028, lng: 12.4964 },
} as const;

type Kind = UpsertProfileInput["kind"];
type Extra = Partial<UpsertProfileInput> & Record<string, unknown>;

const DEFAULTS: Record<Kind, Record<string, unknown>> = {
  tutor: { subjects: ["maths"], levels: ["high_school"] },
  housekeeper: { tasks: ["cleaning"] },
  senior_caregiver: { services: ["companionship"] },
};

export function profileInput(kind: Kind, at: keyof typeof CITIES, extra: Extra = {}): UpsertProfileInput {
  return {
    kind,
    headline: `A ${kind} in ${CITIES[at].city}`,
    about: "",
    hourlyRateCents: 2500,
    currency: "EUR",
    availability: [],
    serviceRadiusKm: 20,
    education: [],
    experiences: [],
    published: true,
    ...CITIES[at],
    ...DEFAULTS[kind],
    ...extra,
  } as UpsertProfileInput;
}

/** A new provider member of `tenant` with a profile; returns the user and the profile. */
export async function createProvider(env: TestEnv, tenant: TestTenant, input: UpsertProfileInput): Promise<{ user: TestUser; profile: Awaited<ReturnType<ReturnType<typeof callerAs>["profiles"]["upsertMine"]>> }> {
  const user = await addMember(env, tenant, "provider");
  const profile = await callerAs(env, user.auth, { tenant: tenant.slug }).profiles.upsertMine(input);
  return { user, profile };
}
