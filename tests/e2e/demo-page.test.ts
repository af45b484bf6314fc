import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { countCalls, launchChromium, logIn, PASSWORD, seedAgency } from "../helpers/browser";
import { startServer, type BenchServer } from "../helpers/spawn-server";
import { fileDatabaseUrl } from "../helpers/file-database";

const ARTIFACTS = join(import.meta.dirname, "../artifacts");
const HEIGHT = 800;
/** What the page formats dates with (ui.js), so the test can check they follow the browser's locale. */
const DATE_OPTIONS: Intl.DateTimeFormatOptions = { dateStyle: "medium", timeStyle: "short" };

let server: BenchServer;
let browser: Browser;
let dataDir: string;
const contexts: BrowserContext[] = [];
/** Script errors and console errors (a CSP refusal among them) of every page: a test ends with none. */
let pageErrors: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "aiutami-demo-page-"));
  server = await startServer({ DATABASE_URL: fileDatabaseUrl(), REDIS_URL: inject("redisUrl"), DATA_DIR: dataDir, NODE_ENV: "test", DEMO_PAGE: "true" });
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);
afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A browser of its own (its own localStorage, so its own session), at this width and locale. */
async function openPage(width: number, locale = "en-US"): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height: HEIGHT }, locale });
  contexts.push(context);
  context.on("page", watchErrors);
  const page = await context.newPage();
  return page;
}

function watchErrors(page: Page) {
  page.on("pageerror", (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  page.on("console", (message) => {
    // A refused request (the test's own aborted route) is logged as a console error too: that one is expected.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) pageErrors.push(`${page.url()}: ${message.text()}`);
  });
}

beforeEach(() => {
  pageErrors = [];
});
afterEach(() => {
  expect(pageErrors).toEqual([]);
});

async function openAs(email: string, width: number, locale?: string): Promise<Page> {
  const page = await openPage(width, locale);
  await logIn(page, server.baseUrl, email);
  return page;
}

async function search(page: Page) {
  await page.selectOption("#search select[name='kind']", "senior_caregiver");
  await page.click("#search button[type='submit']");
  await page.waitForSelector("#results li button.hire:not([disabled])");
}

const buttonsOf = (item: Locator) => item.locator(".hire-buttons button").allTextContents();
const stateOf = (item: Locator) => item.locator(".hire-state").textContent();

/** The few browser globals the page-side checks use (this project's TypeScript has no DOM library). */
type PageElement = { tagName: string; id: string; classList: Iterable<string>; getBoundingClientRect(): { left: number; right: number; width: number; height: number } };
type PageGlobals = { innerWidth: number; document: { documentElement: { scrollWidth: number }; querySelectorAll(selector: string): Iterable<PageElement> } };

/** Nothing wider than the viewport: no sideways scrolling, and every visible element inside it. */
async function expectFits(page: Page, width: number) {
  const layout = await page.evaluate(() => {
    const { document, innerWidth } = globalThis as unknown as PageGlobals;
    return {
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth,
      outside: [...document.querySelectorAll("body *")]
        .filter((node) => {
          const box = node.getBoundingClientRect();
          return box.width > 0 && box.height > 0 && (box.left < -0.5 || box.right > innerWidth + 0.5);
        })
        .map((node) => `${node.tagName.toLowerCase()}${node.id ? `#${node.id}` : ""}.${[...node.classList].join(".")}`),
    };
  });
  expect(layout.innerWidth).toBe(width);
  expect(layout.scrollWidth).toBeLessThanOrEqual(width);
  expect(layout.outside).toEqual([]);
}

async function expectToastInside(page: Page, text: string, width: number) {
  const toast = page.locator(".toast", { hasText: text }).first();
  await toast.waitFor();
  const box = (await toast.boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.y).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(width);
  expect(box.y + box.height).toBeLessThanOrEqual(HEIGHT);
}

/** Every date on the page reads as `locale` writes it, and not as ISO text. */
async function expectDatesIn(page: Page, locale: string) {
  const dates = await page.$$eval(
    "time",
    (nodes, [loc, options]) => nodes.map((t) => ({ shown: t.textContent, expected: new Intl.DateTimeFormat(loc as string, options as Intl.DateTimeFormatOptions).format(new Date(t.getAttribute("datetime")!)) })),
    [locale, DATE_OPTIONS] as const,
  );
  expect(dates.length).toBeGreaterThan(0);
  for (const { shown, expected } of dates) expect(shown).toBe(expected);
}

describe.each([1280, 375])("/demo at %i px", (width) => {
  it("logged out, the header offers nothing a logged-out user cannot use; a failed log-in says why", async () => {
    const page = await openPage(width);
    const answer = await page.goto(`${server.baseUrl}/demo`);
    const policy = answer!.headers()["content-security-policy"]!;
    expect(policy).toContain("script-src 'self';");
    expect(policy).toContain("style-src 'self';");
    expect(policy).not.toContain("unsafe");
    await page.waitForSelector("#login button[type=submit]");
    for (const selector of ["#session", "#tenant", "#status", "#logout", "#inbox-view", "#client-view", "#hires-view"]) {
      expect(await page.isVisible(selector), selector).toBe(false);
    }
    expect(await page.isVisible("header h1")).toBe(true);
    await expectFits(page, width);
    await page.screenshot({ path: join(ARTIFACTS, `demo-${width}-logged-out.png`), fullPage: true });

    await page.fill('input[name="email"]', `nobody-${randomUUID()}@b.test`);
    await page.fill('input[name="password"]', `${PASSWORD}-wrong`);
    await page.click('#login button[type="submit"]');
    await page.waitForSelector("#login-error:not([hidden])");
    expect(await page.textContent("#login-error")).toBe("Email or password is incorrect.");
    expect(await page.isVisible("#session")).toBe(false);
  });

  it("a provider accepts and completes a hire, the client cancels another, and each side sees it live", async () => {
    const agency = await seedAgency(server.baseUrl, { photo: true });
    const provider = await openAs(agency.provider.email, width, "en-US");
    const client = await openAs(agency.client.email, width, "it-IT");
    const creates = countCalls(client, "hires.create");

    // The result shows the provider's photo.
    await search(client);
    const photo = client.locator("#results li img.photo");
    expect(await photo.getAttribute("src")).toBe(agency.photo!.thumb);
    await expect.poll(() => photo.evaluate((node) => {
      const img = node as unknown as { complete: boolean; naturalWidth: number };
      return img.complete ? img.naturalWidth : 0;
    })).toBeGreaterThan(0);

    // A double click on Hire makes one hire.
    await client.dblclick("#results button.hire");
    await client.waitForSelector("#results .result-message:has-text('Hired Paolo')");
    expect(await client.textContent("#results button.hire")).toBe("Hired");
    expect(await client.isDisabled("#results button.hire")).toBe(true);
    expect(creates.count).toBe(1);
    const made = (await agency.client.c.api.hires.list.query({ as: "client" })).items;
    expect(made).toHaveLength(1);
    const first = made[0]!;

    // The provider sees the request live, with its two answers.
    const request = provider.locator(`#notifications li[data-type="hire.requested"][data-hire-id="${first.id}"]`);
    await request.waitFor();
    expect(await stateOf(request)).toBe("Waiting for your answer");
    expect(await buttonsOf(request)).toEqual(["Accept", "Decline"]);
    await expectToastInside(provider, "New request from Carla Client", width);
    const mine = client.locator(`#my-hires li[data-hire-id="${first.id}"]`);
    expect(await stateOf(mine)).toBe("Waiting for the provider's answer");
    expect(await buttonsOf(mine)).toEqual(["Cancel hire"]);

    // Accept: the client sees it live.
    await request.locator("button.step-accept").click();
    await expect.poll(() => stateOf(request)).toBe("Accepted by you");
    expect(await buttonsOf(request)).toEqual(["Complete"]);
    await expect.poll(() => stateOf(mine)).toBe("Accepted by the provider");
    expect(await buttonsOf(mine)).toEqual(["Complete", "Cancel hire"]);
    await client.waitForSelector("#notifications li[data-type='hire.accepted'] strong:has-text('Hire accepted by Paolo Provider')");
    await expectToastInside(client, "Hire accepted by Paolo Provider", width);
    // The request answered counts as read.
    await provider.waitForSelector(`#notifications li.read[data-hire-id="${first.id}"]`);

    // Complete: the client sees it live, with nothing left to do.
    await request.locator("button.step-complete").click();
    await expect.poll(() => stateOf(request)).toBe("Completed by you");
    expect(await buttonsOf(request)).toEqual([]);
    await expect.poll(() => stateOf(mine)).toBe("Completed by the provider");
    expect(await buttonsOf(mine)).toEqual([]);
    expect((await agency.client.c.api.hires.get.query({ id: first.id })).status).toBe("completed");

    // A second hire, cancelled by the client: the provider sees it live and its buttons go.
    await search(client);
    await client.click("#results button.hire");
    await client.waitForSelector("#results .result-message:has-text('Hired Paolo')");
    const second = (await agency.client.c.api.hires.list.query({ as: "client", status: "requested" })).items;
    expect(second).toHaveLength(1);
    const request2 = provider.locator(`#notifications li[data-type="hire.requested"][data-hire-id="${second[0]!.id}"]`);
    await request2.waitFor();
    expect(await buttonsOf(request2)).toEqual(["Accept", "Decline"]);
    const mine2 = client.locator(`#my-hires li[data-hire-id="${second[0]!.id}"]`);
    await mine2.locator("button.step-cancel").click();
    await expect.poll(() => stateOf(mine2)).toBe("Cancelled by you");
    expect(await buttonsOf(mine2)).toEqual([]);
    await expect.poll(() => stateOf(request2)).toBe("Cancelled by the client");
    expect(await buttonsOf(request2)).toEqual([]);
    await provider.waitForSelector("#notifications li[data-type='hire.cancelled'] strong:has-text('Hire cancelled by Carla Client')");
    expect((await agency.client.c.api.hires.get.query({ id: second[0]!.id })).status).toBe("cancelled");

    await expectDatesIn(provider, "en-US");
    await expectDatesIn(client, "it-IT");
    for (const page of [provider, client]) {
      await expectFits(page, width);
      for (const control of ["#logout", "#status"]) {
        const box = (await page.locator(control).boundingBox())!;
        expect(box.x + box.width, control).toBeLessThanOrEqual(width);
      }
    }
    await provider.screenshot({ path: join(ARTIFACTS, `demo-${width}-provider.png`), fullPage: true });
    await client.screenshot({ path: join(ARTIFACTS, `demo-${width}-client.png`), fullPage: true });
  });
});

describe("/demo: failures and steps taken elsewhere", () => {
  it("a failed search shows its message next to the form and clears the old results", async () => {
    const agency = await seedAgency(server.baseUrl);
    const client = await openAs(agency.client.email, 1280);
    await search(client);
    expect(await client.locator("#results li").count()).toBe(1);

    await client.fill("#search input[name='radius']", "");
    await client.click("#search button[type='submit']");
    await client.waitForSelector("#search-error:not([hidden])");
    expect(await client.textContent("#search-error")).toBe("Within km: is required");
    expect(await client.getAttribute("#search input[name='radius']", "aria-invalid")).toBe("true");
    expect(await client.locator("#results li").count()).toBe(0);

    // Fixed, it searches again.
    await client.fill("#search input[name='radius']", "30");
    await search(client);
    expect(await client.isVisible("#search-error")).toBe(false);
    expect(await client.getAttribute("#search input[name='radius']", "aria-invalid")).toBeNull();
  });

  it("a step already taken on another device shows the hire's state, not an error", async () => {
    const agency = await seedAgency(server.baseUrl);
    const hire = await agency.client.c.api.hires.create.mutate({ providerId: agency.provider.id, jobDescription: "Company for my father on Sunday", location: "Milan", startsAt: new Date(Date.now() + 86_400_000).toISOString() });
    const tab1 = await openAs(agency.provider.email, 1280);
    // A second tab of the same browser: the same user, who hears nothing of their own steps.
    const tab2 = await tab1.context().newPage();
    await tab2.goto(`${server.baseUrl}/demo`);
    const inTab = (tab: Page) => tab.locator(`#notifications li[data-type="hire.requested"][data-hire-id="${hire.id}"]`);
    for (const tab of [tab1, tab2]) await expect.poll(() => buttonsOf(inTab(tab))).toEqual(["Accept", "Decline"]);

    await inTab(tab1).locator("button.step-accept").click();
    await expect.poll(() => stateOf(inTab(tab1))).toBe("Accepted by you");
    expect(await buttonsOf(inTab(tab2))).toEqual(["Accept", "Decline"]);
    await inTab(tab2).locator("button.step-decline").click();
    await expect.poll(() => stateOf(inTab(tab2))).toBe("Accepted by you");
    expect(await inTab(tab2).locator(".hire-message").textContent()).toBe("Already accepted by you.");
    expect(await inTab(tab2).locator(".hire-message.error").count()).toBe(0);
    expect(await buttonsOf(inTab(tab2))).toEqual(["Complete"]);
    expect((await agency.client.c.api.hires.get.query({ id: hire.id })).status).toBe("accepted");

    // The client cancels the accepted hire: both of the provider's tabs see it live, buttons gone.
    const client = await openAs(agency.client.email, 1280);
    const mine = client.locator(`#my-hires li[data-hire-id="${hire.id}"]`);
    await expect.poll(() => buttonsOf(mine)).toEqual(["Complete", "Cancel hire"]);
    expect(await stateOf(mine)).toBe("Accepted by the provider");
    await mine.locator("button.step-cancel").click();
    await expect.poll(() => stateOf(mine)).toBe("Cancelled by you");
    for (const tab of [tab1, tab2]) {
      await expect.poll(() => stateOf(inTab(tab))).toBe("Cancelled by the client");
      expect(await buttonsOf(inTab(tab))).toEqual([]);
    }
  });

  it("a step is disabled while in flight, a failed one shows its message next to its buttons; log-out and back in leaves one listener", async () => {
    const agency = await seedAgency(server.baseUrl);
    const hire = await agency.client.c.api.hires.create.mutate({ providerId: agency.provider.id, jobDescription: "Company for my mother on Monday", location: "Milan", startsAt: new Date(Date.now() + 86_400_000).toISOString() });
    const page = await openAs(agency.provider.email, 1280);
    const accepts = countCalls(page, "hires.accept");
    const item = page.locator(`#notifications li[data-type="hire.requested"][data-hire-id="${hire.id}"]`);
    await expect.poll(() => buttonsOf(item)).toEqual(["Accept", "Decline"]);

    // Hold the accept in flight until the test lets it fail as a lost connection would.
    let fail!: () => void;
    const held = new Promise<void>((resolve) => (fail = resolve));
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    await page.route(
      (url) => url.pathname.startsWith("/trpc/") && url.pathname.includes("hires.accept"),
      async (route) => {
        arrived();
        await held;
        await route.abort("connectionreset");
      },
    );
    await item.locator("button.step-accept").click();
    await reached;
    expect(await item.locator("button.step-accept").isDisabled()).toBe(true);
    expect(await item.locator("button.step-decline").isDisabled()).toBe(true);
    fail();
    await item.locator(".hire-message.error").waitFor();
    expect(await item.locator(".hire-message").textContent()).toBe("The server could not be reached. Check the connection and try again.");
    expect(await item.locator("button.step-accept").isDisabled()).toBe(false);
    expect(accepts.count).toBe(1);
    expect((await agency.client.c.api.hires.get.query({ id: hire.id })).status).toBe("requested");

    // Once the connection is back, the same button works.
    await page.unrouteAll();
    await item.locator("button.step-accept").click();
    await expect.poll(() => stateOf(item)).toBe("Accepted by you");
    expect(await item.locator(".hire-message").isVisible()).toBe(false);

    // Log out: the header is a logged-out one again. Log in again on the same page: a live
    // notification shows once (the listeners of the first session are gone).
    await page.click("#logout");
    await page.waitForSelector("#login-view:not([hidden])");
    for (const selector of ["#session", "#tenant", "#status", "#logout", "#inbox-view"]) expect(await page.isVisible(selector), selector).toBe(false);
    await page.fill('input[name="email"]', agency.provider.email);
    await page.fill('input[name="password"]', PASSWORD);
    await page.click('#login button[type="submit"]');
    await page.waitForSelector("#status[data-status='connected']");
    const again = await agency.client.c.api.hires.create.mutate({ providerId: agency.provider.id, jobDescription: "Company for my mother on Tuesday", location: "Milan", startsAt: new Date(Date.now() + 86_400_000).toISOString() });
    const shown = page.locator(`#notifications li[data-type="hire.requested"][data-hire-id="${again.id}"]`);
    await shown.first().waitFor();
    // Listeners run in one dispatch: a second copy would be on the page by now.
    expect(await shown.count()).toBe(1);
    expect(await page.locator(".toast", { hasText: "New request from Carla Client" }).count()).toBe(1);
  });
});
