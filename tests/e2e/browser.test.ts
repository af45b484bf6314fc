import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createAiutamiClient, memoryStorage } from "../../client-sdk/src/index";
import { startServer, type BenchServer } from "../helpers/spawn-server";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = join(import.meta.dirname, "../artifacts");
const PASSWORD = "browser-test-pass-1";

let server: BenchServer;
let browser: Browser;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "aiutami-browser-"));
  server = await startServer({ DATABASE_URL: inject("ownerDatabaseUrl"), REDIS_URL: inject("redisUrl"), DATA_DIR: dataDir, NODE_ENV: "test", DEMO_PAGE: "true" });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** An agency with a client and a published caregiver in Milan, made through the SDK. */
async function seedAgency() {
  const tag = Date.now().toString(36);
  const owner = createAiutamiClient({ baseUrl: server.baseUrl, storage: memoryStorage() });
  await owner.auth.signUp({ email: `owner-${tag}@b.test`, password: PASSWORD, firstName: "Olga", lastName: "Owner" });
  const tenant = await owner.api.tenants.create.mutate({ name: `Browser Agency ${tag}` });
  owner.useTenant(tenant.slug);
  const make = async (who: string, role: "client" | "provider") => {
    const c = createAiutamiClient({ baseUrl: server.baseUrl, storage: memoryStorage(), tenant: tenant.slug });
    const email = `${who}-${tag}@b.test`;
    await c.auth.signUp({ email, password: PASSWORD, firstName: who === "client" ? "Carla" : "Paolo", lastName: who === "client" ? "Client" : "Provider", phone: "+39 02 5550 9999" });
    const invitation = await owner.api.tenants.members.invite.mutate({ email, role });
    await c.api.tenants.invitations.accept.mutate({ id: invitation.id });
    return { c, email };
  };
  const provider = await make("provider", "provider");
  const client = await make("client", "client");
  await provider.c.api.profiles.upsertMine.mutate({ kind: "senior_caregiver", headline: "Caring companion in Milan", hourlyRateCents: 2200, city: "Milan", lat: 45.47, lng: 9.2, serviceRadiusKm: 20, services: ["companionship"], published: true });
  return { tenant, provider, client };
}

async function logIn(page: Page, email: string) {
  await page.goto(`${server.baseUrl}/demo`);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', PASSWORD);
  await page.click('#login button[type="submit"]');
  await page.waitForSelector("#status[data-status='connected']", { timeout: 10_000 });
}

describe("the live inbox page in Chromium", () => {
  it("a hire shows in the provider's inbox within 2 s; marking it read in one tab clears it in the other", async () => {
    const agency = await seedAgency();
    const providerContext = await browser.newContext();
    const tab1 = await providerContext.newPage();
    await logIn(tab1, agency.provider.email);
    // A second tab of the same browser: it resumes the session from localStorage.
    const tab2 = await providerContext.newPage();
    await tab2.goto(`${server.baseUrl}/demo`);
    await tab2.waitForSelector("#status[data-status='connected']", { timeout: 10_000 });
    for (const tab of [tab1, tab2]) expect(await tab.textContent("#badge")).toBe("0");

    const clientContext = await browser.newContext();
    const clientPage = await clientContext.newPage();
    await logIn(clientPage, agency.client.email);
    await clientPage.selectOption("#search select[name='kind']", "senior_caregiver");
    await clientPage.click("#search button[type='submit']");
    await clientPage.waitForSelector("#results button.hire");

    const started = Date.now();
    await clientPage.click("#results button.hire");
    await tab1.waitForSelector("#notifications li.unread", { timeout: 2000 });
    const elapsedMs = Date.now() - started;
    expect(elapsedMs).toBeLessThan(2000);
    await expect.poll(() => tab1.textContent("#badge"), { timeout: 2000 }).toBe("1");
    await expect.poll(() => tab2.textContent("#badge"), { timeout: 2000 }).toBe("1");
    expect(await tab1.textContent("#notifications li.unread strong")).toBe("New request from Carla Client");
    expect(await tab1.textContent("#toasts")).toContain("New request from Carla Client");
    expect(await clientPage.textContent("#hire-message")).toContain("Hired Paolo");

    mkdirSync(ARTIFACTS, { recursive: true });
    await tab1.screenshot({ path: join(ARTIFACTS, "inbox.png"), fullPage: true });

    await tab1.click("#notifications li.unread button.mark-read");
    await expect.poll(() => tab2.textContent("#badge"), { timeout: 3000 }).toBe("0");
    await tab2.waitForSelector("#notifications li.read", { timeout: 3000 });
    expect(await tab1.textContent("#badge")).toBe("0");
    await providerContext.close();
    await clientContext.close();
  }, 60_000);
});
