/**
 * Limits that hold under concurrency and batching (issue 14, invariant 9), against the real Redis and a
 * real HTTP server: the log-in throttle, the batch cap, the per-procedure rate limits, /metrics closed by
 * default, and the hub's connections per user. Client addresses come from X-Forwarded-For (TRUST_PROXY),
 * each test's own, so counters never meet another test's or run's.
 */
import { connect } from "node:net";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessions, users } from "../../db/schema";
import { ConfigError, loadConfig } from "../../server/config";
import { TOO_MANY_CONNECTIONS } from "../../server/hub/socket-limit";
import { createUser, TEST_PASSWORD, unique, type TestUser } from "../helpers/factories";
import { createMarketplace, hireInput } from "../helpers/hiring";
import { connectDevice, eventually, type TestDevice } from "../helpers/sockets";
import { callerAs, openOwnerSql, startTestApp, type TestApp } from "../helpers/test-app";

const METRICS_TOKEN = `metrics-${crypto.randomUUID()}`;
const PAIR_LIMIT = 10;
const ADDRESS_LIMIT = 50;
const EMAIL_CEILING = 20;
const SLOW_SECONDS = 2;
const MAX_BATCH = 20;

let app: TestApp;
let base: string;
beforeAll(async () => {
  app = await startTestApp({
    TRUST_PROXY: "true",
    METRICS_TOKEN,
    LOGIN_MAX_FAILURES_PER_EMAIL: String(PAIR_LIMIT),
    LOGIN_MAX_FAILURES_PER_ADDRESS: String(ADDRESS_LIMIT),
    LOGIN_EMAIL_CEILING: String(EMAIL_CEILING),
    LOGIN_EMAIL_SLOW_SECONDS: String(SLOW_SECONDS),
    TRPC_MAX_BATCH: String(MAX_BATCH),
    RATE_LIMIT_SIGN_UP_PER_ADDRESS: "3/1h",
    RATE_LIMIT_HIRES_PER_ACCOUNT: "3/1h",
    RATE_LIMIT_HIRES_PER_ADDRESS: "100/1h",
    RATE_LIMIT_TENANTS_PER_ACCOUNT: "3/1h",
    RATE_LIMIT_TENANTS_PER_ADDRESS: "4/1h",
    HUB_MAX_SOCKETS_PER_USER: "3",
  });
  base = app.server.baseUrl;
});
afterAll(() => app.close());

/** A client address of this test's own (the hop our trusted proxy would append). */
const newAddress = () => `203.0.113.${unique("a")}`;

type CallResult = { status: number; code?: string; message?: string; retryAfterSeconds?: number; data?: unknown };
type Envelope = { result?: { data: unknown }; error?: { message: string; data: { code: string; retryAfterSeconds?: number } } };
const resultOf = (status: number, body: Envelope): CallResult =>
  body.error
    ? { status, code: body.error.data.code, message: body.error.message, retryAfterSeconds: body.error.data.retryAfterSeconds }
    : { status, data: body.result?.data };

/** One mutation over HTTP from `address`. */
async function mutate(path: string, input: unknown, opts: { address: string; token?: string; tenant?: string }): Promise<CallResult> {
  const res = await fetch(`${base}/trpc/${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-forwarded-for": opts.address,
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.tenant ? { "x-tenant-id": opts.tenant } : {}),
    },
    body: JSON.stringify(input),
  });
  return resultOf(res.status, (await res.json()) as Envelope);
}

/** One batch request of mutations over HTTP; the answer per call, and the whole request's status. */
async function batch(path: string, inputs: unknown[], opts: { address: string; token?: string; tenant?: string }) {
  const res = await fetch(`${base}/trpc/${Array.from(inputs, () => path).join(",")}?batch=1`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-forwarded-for": opts.address,
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.tenant ? { "x-tenant-id": opts.tenant } : {}),
    },
    body: JSON.stringify(Object.fromEntries(inputs.map((input, i) => [i, input]))),
  });
  const body = (await res.json()) as Envelope[] | Envelope;
  return { status: res.status, body, calls: Array.isArray(body) ? body.map((b) => resultOf(res.status, b)) : null };
}

const logIn = (email: string, password: string, address: string) => mutate("auth.logIn", { email, password }, { address });

async function scrapeMetrics(): Promise<string> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  return res.text();
}

/** Passwords log-in has checked so far, read from /metrics. */
async function passwordChecks(): Promise<number> {
  const found = /^aiutami_login_password_checks_total (\d+)$/m.exec(await scrapeMetrics());
  if (!found) throw new Error("aiutami_login_password_checks_total is missing from /metrics");
  return Number(found[1]);
}

const countBy = (results: CallResult[]) => results.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.code ?? "OK"]: (acc[r.code ?? "OK"] ?? 0) + 1 }), {});

async function sessionsOf(user: TestUser): Promise<number> {
  return (await app.env.deps.db.select({ id: sessions.id }).from(sessions).where(eq(sessions.userId, user.id))).length;
}

describe("log-in throttle under concurrency and batching", () => {
  it("60 parallel wrong passwords from one address get exactly the limit of password checks", async () => {
    const user = await createUser(app.env);
    const address = newAddress();
    const before = await passwordChecks();
    const results = await Promise.all(Array.from({ length: 60 }, () => logIn(user.email, "not-the-password", address)));
    expect(await passwordChecks()).toBe(before + PAIR_LIMIT);
    expect(countBy(results)).toEqual({ UNAUTHORIZED: PAIR_LIMIT, TOO_MANY_REQUESTS: 60 - PAIR_LIMIT });
    for (const r of results.filter((r) => r.code === "TOO_MANY_REQUESTS")) expect(r.retryAfterSeconds).toBeGreaterThan(0);
  });

  it("60 parallel attempts at 60 accounts from one address get exactly the per-address limit", async () => {
    const address = newAddress();
    const before = await passwordChecks();
    const results = await Promise.all(Array.from({ length: 60 }, () => logIn(`${unique("spray")}@example.test`, "whatever-pass", address)));
    expect(await passwordChecks()).toBe(before + ADDRESS_LIMIT);
    expect(countBy(results)).toEqual({ UNAUTHORIZED: ADDRESS_LIMIT, TOO_MANY_REQUESTS: 60 - ADDRESS_LIMIT });
  });

  it("a batch of 30 log-ins is refused whole by the batch cap, before any password is checked", async () => {
    const user = await createUser(app.env);
    const before = await passwordChecks();
    const inputs = [...Array.from({ length: 29 }, () => ({ email: user.email, password: "not-the-password" })), { email: user.email, password: TEST_PASSWORD }];
    const answer = await batch("auth.logIn", inputs, { address: newAddress() });
    expect(answer.status).toBe(400);
    expect(answer.calls).toBeNull();
    const error = (answer.body as Envelope).error!;
    expect(error.data.code).toBe("BAD_REQUEST");
    expect(error.message).toBe(`A batch may carry at most ${MAX_BATCH} calls (TRPC_MAX_BATCH); this one has 30. Send the calls in smaller batches.`);
    expect(await passwordChecks()).toBe(before);
    expect(await sessionsOf(user)).toBe(1); // the sign-up's
  });

  it("a batch of 20 with the right password last counts every call, and does not log in past the limit", async () => {
    const user = await createUser(app.env);
    const before = await passwordChecks();
    const inputs = [...Array.from({ length: 19 }, () => ({ email: user.email, password: "not-the-password" })), { email: user.email, password: TEST_PASSWORD }];
    const answer = await batch("auth.logIn", inputs, { address: newAddress() });
    expect(answer.calls).toHaveLength(20);
    expect(await passwordChecks()).toBe(before + PAIR_LIMIT);
    expect(countBy(answer.calls!)).toEqual({ UNAUTHORIZED: PAIR_LIMIT, TOO_MANY_REQUESTS: 20 - PAIR_LIMIT });
    expect(answer.calls!.at(-1)!.code).toBe("TOO_MANY_REQUESTS");
    expect(await sessionsOf(user)).toBe(1);
  });

  it("guesses from many addresses slow an account down but do not lock its owner out", async () => {
    const home = newAddress();
    const email = `${unique("owner")}@example.test`;
    // The owner signed up from home: an address the account knows.
    const owner = await callerAs(app.env, null, { ip: home }).auth.signUp({ email, password: TEST_PASSWORD, firstName: "Olivia", lastName: "Owner" });

    // Two addresses spend their per-(email, address) limit: the account reaches its ceiling.
    const guessers = [newAddress(), newAddress()];
    const guesses = await Promise.all(guessers.flatMap((a) => Array.from({ length: PAIR_LIMIT }, () => logIn(email, "a-wrong-guess", a))));
    expect(countBy(guesses)).toEqual({ UNAUTHORIZED: EMAIL_CEILING });
    // Each guesser stays locked for the window.
    const locked = await logIn(email, TEST_PASSWORD, guessers[0]!);
    expect(locked.code).toBe("TOO_MANY_REQUESTS");
    expect(locked.retryAfterSeconds).toBeGreaterThan(SLOW_SECONDS);

    // Past the ceiling: one attempt per SLOW_SECONDS from new addresses, all of them together.
    expect((await logIn(email, "another-wrong-guess", newAddress())).code).toBe("UNAUTHORIZED");
    const traveller = newAddress();
    const slowed = await logIn(email, TEST_PASSWORD, traveller);
    expect(slowed.code).toBe("TOO_MANY_REQUESTS");
    expect(slowed.retryAfterSeconds).toBeGreaterThan(0);
    expect(slowed.retryAfterSeconds).toBeLessThanOrEqual(SLOW_SECONDS);
    // From home the owner is not slowed at all.
    const fromHome = await logIn(email, TEST_PASSWORD, home);
    expect(fromHome.code).toBeUndefined();
    expect((fromHome.data as { user: { id: string } }).user.id).toBe(owner.user.id);
    // And from the new address, after the wait the answer named, the right password logs in.
    await new Promise((r) => setTimeout(r, slowed.retryAfterSeconds! * 1000));
    const later = await logIn(email, TEST_PASSWORD, traveller);
    expect(later.code).toBeUndefined();
    expect((later.data as { user: { id: string } }).user.id).toBe(owner.user.id);
  });

  it("answers an unknown email's guesses exactly as a real one's, through every layer", async () => {
    const real = await createUser(app.env);
    const script = async (email: string) => {
      const [a, b, c, d] = [newAddress(), newAddress(), newAddress(), newAddress()];
      const out: string[] = [];
      // a's 11th meets the (email, address) limit; b brings the email to its ceiling; c takes the slowed
      // attempt, and d waits.
      for (const address of [...Array<string>(PAIR_LIMIT + 1).fill(a), ...Array<string>(PAIR_LIMIT).fill(b), c, d]) {
        const r = await logIn(email, "a-wrong-guess", address);
        out.push(`${r.status} ${r.code} ${r.message?.replace(/\d+ s\./, "N s.")}`);
      }
      return out;
    };
    const known = await script(real.email);
    const unknown = await script(`${unique("nobody")}@example.test`);
    expect(unknown).toEqual(known);
    expect(known.map((l, i) => [i, l.slice(0, 3)]).filter(([, status]) => status === "429")).toEqual([[PAIR_LIMIT, "429"], [2 * PAIR_LIMIT + 2, "429"]]);
  });
});

describe("batch cap", () => {
  it("refuses a batch over the cap with a 400 naming it, on the direct path and in tRPC's adapter", async () => {
    const paths = Array.from({ length: 1000 }, () => "auth.me").join(",");
    const callsBefore = /aiutami_trpc_call_duration_seconds_count\{path="auth.me"[^}]*\} (\d+)/.exec(await scrapeMetrics())?.[1] ?? "0";
    const direct = await fetch(`${base}/trpc/${paths}?batch=1`);
    expect(direct.status).toBe(400);
    const body = (await direct.json()) as { error: { message: string; data: { code: string; requestId: string; maxBatchSize: number } } };
    expect(body.error.message).toMatch(/^A batch may carry at most 20 calls \(TRPC_MAX_BATCH\); this one has 1000\./);
    expect(body.error.data).toMatchObject({ code: "BAD_REQUEST", maxBatchSize: MAX_BATCH, requestId: direct.headers.get("x-request-id") });
    // An encoded comma splits calls in tRPC's adapter, so it counts here too; so does a streamed batch.
    expect((await fetch(`${base}/trpc/${paths.replaceAll(",", "%2C")}?batch=1`)).status).toBe(400);
    expect((await fetch(`${base}/trpc/${paths}?batch=1`, { headers: { "trpc-accept": "application/jsonl" } })).status).toBe(400);
    // A request the direct path leaves to the adapter (a fragment in the request line) meets tRPC's own cap.
    const raw = await rawGet(`/trpc/${Array.from({ length: 21 }, () => "auth.me").join(",")}?batch=1#x`);
    expect(raw.status).toBe(400);
    expect(raw.body).toMatch(/Batch call exceeds maximum size/);
    // No call of any of them ran.
    const callsAfter = /aiutami_trpc_call_duration_seconds_count\{path="auth.me"[^}]*\} (\d+)/.exec(await scrapeMetrics())?.[1] ?? "0";
    expect(callsAfter).toBe(callsBefore);
    // A batch at the cap runs.
    const full = await fetch(`${base}/trpc/${Array.from({ length: MAX_BATCH }, () => "auth.me").join(",")}?batch=1`);
    expect(((await full.json()) as unknown[]).length).toBe(MAX_BATCH);
  });

  it("/healthz answers while a maximal batch of password checks runs", async () => {
    const address = newAddress();
    const before = await passwordChecks();
    const order: string[] = [];
    const inputs = Array.from({ length: MAX_BATCH }, () => ({ email: `${unique("busy")}@example.test`, password: "whatever-pass" }));
    const running = batch("auth.logIn", inputs, { address }).then((answer) => {
      order.push("batch");
      return answer;
    });
    // Once the batch is checking passwords, health is asked.
    await eventually(async () => (await passwordChecks()) > before, "the batch checking passwords");
    const health = await fetch(`${base}/healthz`);
    order.push("healthz");
    expect(health.status).toBe(200);
    const answer = await running;
    expect(countBy(answer.calls!)).toEqual({ UNAUTHORIZED: MAX_BATCH });
    expect(order).toEqual(["healthz", "batch"]);
  });
});

describe("rate limits of the calls that create things", () => {
  it("sign-up: a batch from one address gets the per-address limit, and a taken email answers the same way after it", async () => {
    const address = newAddress();
    const emails = Array.from({ length: 5 }, () => `${unique("signup")}@example.test`);
    const answer = await batch("auth.signUp", emails.map((email) => ({ email, password: TEST_PASSWORD, firstName: "Sara", lastName: "Signup" })), { address });
    expect(countBy(answer.calls!)).toEqual({ OK: 3, TOO_MANY_REQUESTS: 2 });
    for (const r of answer.calls!.filter((c) => c.code)) {
      expect(r.message).toMatch(/^Too many sign-ups from this address\. Try again in \d+ s\.$/);
      expect(r.retryAfterSeconds).toBeGreaterThan(0);
    }
    let created = 0;
    for (const email of emails) created += (await app.env.deps.db.select({ id: users.id }).from(users).where(eq(users.email, email))).length;
    expect(created).toBe(3);
    // Probing whether an email is taken costs the same sign-up budget: the address is out of it.
    const taken = await mutate("auth.signUp", { email: emails[0], password: TEST_PASSWORD, firstName: "S", lastName: "S" }, { address });
    expect(taken.code).toBe("TOO_MANY_REQUESTS");
    // Another address is not affected.
    const elsewhere = await mutate("auth.signUp", { email: `${unique("signup")}@example.test`, password: TEST_PASSWORD, firstName: "S", lastName: "S" }, { address: newAddress() });
    expect(elsewhere.code).toBeUndefined();
  });

  it("tenants.create: per account across addresses, and per address across accounts", async () => {
    const user = await createUser(app.env);
    const perAccount = await Promise.all(Array.from({ length: 5 }, (_, i) => mutate("tenants.create", { name: `Agency ${unique()} ${i}` }, { address: newAddress(), token: user.token })));
    expect(countBy(perAccount)).toEqual({ OK: 3, TOO_MANY_REQUESTS: 2 });
    expect(perAccount.find((r) => r.code)!.message).toMatch(/^Too many new agencies from this account\. Try again in \d+ s\.$/);
    expect(await callerAs(app.env, user.auth).tenants.mine()).toHaveLength(3);

    const address = newAddress();
    const others = await Promise.all([createUser(app.env), createUser(app.env), createUser(app.env)]);
    const perAddress = await Promise.all(others.flatMap((o) => [1, 2].map((i) => mutate("tenants.create", { name: `Agency ${unique()} ${i}` }, { address, token: o.token }))));
    expect(countBy(perAddress)).toEqual({ OK: 4, TOO_MANY_REQUESTS: 2 });
    expect(perAddress.find((r) => r.code)!.message).toMatch(/^Too many new agencies from this address\./);
  });

  it("hires.create: every call of a batch counts against the account", async () => {
    const m = await createMarketplace(app.env);
    const answer = await batch("hires.create", Array.from({ length: 5 }, (_, i) => hireInput(m.provider.id, i)), { address: newAddress(), token: m.client.token, tenant: m.tenant.slug });
    expect(countBy(answer.calls!)).toEqual({ OK: 3, TOO_MANY_REQUESTS: 2 });
    expect(answer.calls!.find((r) => r.code)!.message).toMatch(/^Too many hire requests from this account\. Try again in \d+ s\.$/);
    const owner = openOwnerSql();
    try {
      const [row] = await owner<{ n: number }[]>`SELECT count(*)::int AS n FROM hires WHERE client_id = ${m.client.id}`;
      expect(row!.n).toBe(3);
    } finally {
      await owner.end();
    }
  });

  it("names a bad rate in the configuration", () => {
    expect(() => loadConfig({ RATE_LIMIT_HIRES_PER_ACCOUNT: "thirty" })).toThrow(ConfigError);
    expect(() => loadConfig({ RATE_LIMIT_HIRES_PER_ACCOUNT: "thirty" })).toThrow(/RATE_LIMIT_HIRES_PER_ACCOUNT: must be <count>\/<window>/);
    expect(loadConfig({ RATE_LIMIT_HIRES_PER_ACCOUNT: "12/90s", RATE_LIMIT_SIGN_UP_PER_ADDRESS: "off" }).rateLimits).toMatchObject({
      hiresCreate: { perAccount: { points: 12, seconds: 90 } },
      signUp: { perAddress: null },
    });
    expect(() => loadConfig({ LOGIN_MAX_FAILURES_PER_EMAIL: "10", LOGIN_EMAIL_CEILING: "10" })).toThrow(/LOGIN_EMAIL_CEILING: must be more than LOGIN_MAX_FAILURES_PER_EMAIL/);
  });
});

describe("/metrics closed by default", () => {
  it("needs the token as a bearer: none or a wrong one is refused", async () => {
    const none = await fetch(`${base}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await none.text()).not.toMatch(/nodejs_/);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } })).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);
  });

  it("without a token: closed outside development; open in development to loopback only, not through a proxy", async () => {
    const production = await startTestApp({ NODE_ENV: "production" });
    const development = await startTestApp({ NODE_ENV: "development" });
    try {
      const closed = await fetch(`${production.server.baseUrl}/metrics`);
      expect(closed.status).toBe(403);
      expect(((await closed.json()) as { error: { message: string } }).error.message).toMatch(/set METRICS_TOKEN/);
      expect((await fetch(`${development.server.baseUrl}/metrics`)).status).toBe(200);
      expect((await fetch(`${development.server.baseUrl}/metrics`, { headers: { "x-forwarded-for": "198.51.100.7" } })).status).toBe(403);
    } finally {
      await Promise.all([production.close(), development.close()]);
    }
  });
});

describe("connections per user on the hub", () => {
  const refusalOf = (promise: Promise<TestDevice>) =>
    promise.then(
      (device) => ({ device, code: null as string | null, message: null as string | null }),
      (err: Error & { data?: { code?: string } }) => ({ device: null, code: err.data?.code ?? null, message: err.message }),
    );

  it("refuses the N+1th at once with TOO_MANY_CONNECTIONS, however many arrive together, and frees a slot when one closes", async () => {
    const user = await createUser(app.env);
    const attempts = await Promise.all(Array.from({ length: 5 }, () => refusalOf(connectDevice(base, { token: user.token }))));
    const open = attempts.filter((a) => a.device).map((a) => a.device!);
    const refused = attempts.filter((a) => !a.device);
    expect(open).toHaveLength(3);
    expect(refused.map((r) => r.code)).toEqual([TOO_MANY_CONNECTIONS, TOO_MANY_CONNECTIONS]);
    expect(refused[0]!.message).toMatch(/^At most 3 connections per user are open at once/);
    // Another user is not affected.
    const other = await createUser(app.env);
    const theirs = await connectDevice(base, { token: other.token });
    // Closing one lets a new one in; the open ones were never closed to make room.
    open[0]!.close();
    let replacement: TestDevice | null = null;
    await eventually(async () => {
      const attempt = await refusalOf(connectDevice(base, { token: user.token }));
      replacement = attempt.device;
      return replacement !== null;
    }, "a slot freed by the closed connection");
    expect(open.slice(1).every((d) => d.socket.connected)).toBe(true);
    expect((await refusalOf(connectDevice(base, { token: user.token }))).code).toBe(TOO_MANY_CONNECTIONS);
    for (const d of [...open.slice(1), theirs, replacement!]) d.close();
  });
});

/** A GET written by hand on a socket, so the request line can carry what fetch would strip. */
function rawGet(target: string): Promise<{ status: number; body: string }> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("end", () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), body: text.slice(text.indexOf("\r\n\r\n") + 4) }));
    socket.on("error", reject);
  });
}
