import { randomUUID } from "node:crypto";
import { chromium, type Browser, type Page } from "playwright-core";
import { createAiutamiClient, memoryStorage, type AiutamiClient } from "../../client-sdk/src/index";
import { plainImage } from "./images";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const PASSWORD = "browser-test-pass-1";

/** Debian's Chromium, headless, as STACK.md says to launch it here. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
}

export type Member = { c: AiutamiClient; email: string; id: string; name: string };
export type Agency = { tenant: { id: string; slug: string; name: string }; provider: Member; client: Member; photo: { thumb: string } | null };

/**
 * An agency with a client (Carla Client) and a published caregiver in Milan (Paolo Provider), made
 * through the SDK; `photo` gives the caregiver a profile picture.
 */
export async function seedAgency(baseUrl: string, opts: { photo?: boolean } = {}): Promise<Agency> {
  const tag = randomUUID().slice(0, 8);
  const owner = createAiutamiClient({ baseUrl, storage: memoryStorage() });
  await owner.auth.signUp({ email: `owner-${tag}@b.test`, password: PASSWORD, firstName: "Olga", lastName: "Owner" });
  const tenant = await owner.api.tenants.create.mutate({ name: `Browser Agency ${tag}` });
  owner.useTenant(tenant.slug);
  const make = async (who: "client" | "provider"): Promise<Member> => {
    const c = createAiutamiClient({ baseUrl, storage: memoryStorage(), tenant: tenant.slug });
    const email = `${who}-${tag}@b.test`;
    const [firstName, lastName] = who === "client" ? ["Carla", "Client"] : ["Paolo", "Provider"];
    const { user } = await c.auth.signUp({ email, password: PASSWORD, firstName, lastName, phone: "+39 02 5550 9999" });
    const invitation = await owner.api.tenants.members.invite.mutate({ email, role: who });
    await c.api.tenants.invitations.accept.mutate({ id: invitation.id });
    return { c, email, id: user.id, name: `${firstName} ${lastName}` };
  };
  const provider = await make("provider");
  const client = await make("client");
  await provider.c.api.profiles.upsertMine.mutate({ kind: "senior_caregiver", headline: "Caring companion in Milan", hourlyRateCents: 2200, city: "Milan", lat: 45.47, lng: 9.2, serviceRadiusKm: 20, services: ["companionship"], published: true });
  let photo: Agency["photo"] = null;
  if (opts.photo) {
    const form = new FormData();
    form.append("file", new Blob([new Uint8Array(await plainImage("png", 320, 320))], { type: "image/png" }), "face.png");
    photo = (await provider.c.api.profiles.uploadPhoto.mutate(form)).photo;
  }
  return { tenant, provider, client, photo };
}

/** Logs in on /demo and waits for the live inbox to connect. */
export async function logIn(page: Page, baseUrl: string, email: string): Promise<void> {
  await page.goto(`${baseUrl}/demo`);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', PASSWORD);
  await page.click('#login button[type="submit"]');
  await page.waitForSelector("#status[data-status='connected']", { timeout: 10_000 });
}

/** Counts the calls of one procedure a page sends, batched or not (`/trpc/a,b?batch=1`). */
export function countCalls(page: Page, procedure: string): { readonly count: number } {
  let count = 0;
  page.on("request", (request) => {
    const { pathname } = new URL(request.url());
    if (pathname.startsWith("/trpc/")) count += pathname.slice("/trpc/".length).split(",").filter((p) => p === procedure).length;
  });
  return {
    get count() {
      return count;
    },
  };
}
