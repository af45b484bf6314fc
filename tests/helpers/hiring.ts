import { addMember, createTenant, type TestTenant, type TestUser } from "./factories";
import { createProvider, profileInput } from "./profiles";
import { callerAs, type TestEnv } from "./test-app";

export type Marketplace = { tenant: TestTenant; client: TestUser; provider: TestUser };

/** A tenant with a client (with a phone) and a published caregiver. */
export async function createMarketplace(env: TestEnv): Promise<Marketplace> {
  const tenant = await createTenant(env);
  const client = await addMember(env, tenant, "client");
  const { user: provider } = await createProvider(env, tenant, profileInput("senior_caregiver", "milan"));
  return { tenant, client, provider };
}

export const hireInput = (providerId: string, n = 1) => ({
  providerId,
  jobDescription: `Afternoon company and a walk for my father (${n})`,
  location: "Via Roma 1, Milan",
  lat: 45.4642,
  lng: 9.19,
  startsAt: new Date(Date.now() + 86_400_000).toISOString(),
});

export function hire(env: TestEnv, m: Marketplace, n = 1) {
  return callerAs(env, m.client.auth, { tenant: m.tenant.slug }).hires.create(hireInput(m.provider.id, n));
}
