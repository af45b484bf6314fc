import { createAiutamiClient, memoryStorage, type AiutamiClient } from "../../client-sdk/src/index";

export const AGENCY_PASSWORD = "agency-test-pass-1";

/**
 * An agency made through the SDK against a running server, as a front end would: an owner, a client and
 * a published caregiver in Milan. Emails carry a per-call tag, so runs and tests never collide.
 */
export async function createAgency(baseUrl: string) {
  const tag = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const owner = createAiutamiClient({ baseUrl, storage: memoryStorage() });
  await owner.auth.signUp({ email: `owner-${tag}@agency.test`, password: AGENCY_PASSWORD, firstName: "Olga", lastName: "Owner" });
  const tenant = await owner.api.tenants.create.mutate({ name: `Agency ${tag}` });
  owner.useTenant(tenant.slug);
  const member = async (who: "client" | "provider") => {
    const client: AiutamiClient = createAiutamiClient({ baseUrl, storage: memoryStorage(), tenant: tenant.slug });
    const email = `${who}-${tag}@agency.test`;
    const names = who === "client" ? { firstName: "Carla", lastName: "Client" } : { firstName: "Paolo", lastName: "Provider" };
    await client.auth.signUp({ email, password: AGENCY_PASSWORD, ...names, phone: "+39 02 5550 9999" });
    await owner.api.tenants.members.add.mutate({ email, role: who });
    return { client, email };
  };
  const provider = await member("provider");
  const client = await member("client");
  await provider.client.api.profiles.upsertMine.mutate({ kind: "senior_caregiver", headline: "Caring companion in Milan", hourlyRateCents: 2200, city: "Milan", lat: 45.47, lng: 9.2, serviceRadiusKm: 20, services: ["companionship"], published: true });
  return { tenant, owner, provider, client, password: AGENCY_PASSWORD };
}
