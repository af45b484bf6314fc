import { TRPCError } from "@trpc/server";
import { eq } from "drizzle-orm";
import type * as Argon2 from "@node-rs/argon2";
import { verify } from "@node-rs/argon2";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { sessions, users } from "../../db/schema";
import { validateSessionToken } from "../../server/auth/sessions";
import { parseEntry, streamKey } from "../../server/notifications/doorbell";
import { createTenant, createUser, TEST_PASSWORD, unique } from "../helpers/factories";
import { callerAs, createTestEnv, type TestEnv } from "../helpers/test-app";

// The real argon2, watched: which hashes a log-in checks, and how many.
vi.mock("@node-rs/argon2", async (importOriginal) => {
  const argon2 = await importOriginal<typeof Argon2>();
  return { ...argon2, verify: vi.fn(argon2.verify) };
});

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ LOGIN_MAX_FAILURES_PER_EMAIL: "5", LOGIN_MAX_FAILURES_PER_ADDRESS: "8" });
});
afterAll(() => env.close());

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof TRPCError) return err.code;
    throw err;
  }
  return "OK";
}

const DAY = 86_400_000;

describe("sign-up", () => {
  it("creates the user with a trimmed, lower-cased email and returns a token, the user and no tenants", async () => {
    const local = unique("Mixed");
    const result = await callerAs(env, null).auth.signUp({
      email: `  ${local}@Example.TEST `,
      password: TEST_PASSWORD,
      firstName: "Giulia",
      lastName: "Bianchi",
      phone: "+39 02 1234 5678",
    });
    expect(result.user).toEqual({
      id: expect.any(String),
      email: `${local.toLowerCase()}@example.test`,
      firstName: "Giulia",
      lastName: "Bianchi",
      phone: "+39 02 1234 5678",
    });
    expect(result.tenants).toEqual([]);
    expect(result.token).toMatch(/^[a-z2-7]{26}\.[a-z2-7]{52}$/);
    // Only the hash of the secret is stored, never the token.
    const [row] = await env.deps.db.select().from(sessions).where(eq(sessions.userId, result.user.id));
    expect(row?.id).toBe(result.token.split(".")[0]);
    expect(Buffer.from(row!.secretHash).toString("utf8")).not.toContain(result.token.split(".")[1]);
    expect(row!.secretHash.length).toBe(32);
    const [user] = await env.deps.db.select({ hash: users.passwordHash }).from(users).where(eq(users.id, result.user.id));
    expect(user?.hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it("refuses an email that differs only in case as a CONFLICT on the email field", async () => {
    const user = await createUser(env);
    const err = await callerAs(env, null)
      .auth.signUp({ email: user.email.toUpperCase(), password: TEST_PASSWORD, firstName: "A", lastName: "B" })
      .catch((e: TRPCError) => e);
    expect(err).toBeInstanceOf(TRPCError);
    expect((err as TRPCError).code).toBe("CONFLICT");
  });

  it("refuses common and short passwords, naming the field", async () => {
    for (const password of ["password123", "Qwertyuiop", "short"]) {
      const err = (await callerAs(env, null)
        .auth.signUp({ email: `${unique()}@example.test`, password, firstName: "A", lastName: "B" })
        .catch((e) => e)) as TRPCError;
      expect(err.code).toBe("BAD_REQUEST");
      expect(err.message).toMatch(/password/);
    }
  });
});

describe("log-in", () => {
  it("returns the token, the user and every tenant with the role", async () => {
    const user = await createUser(env);
    const tenant = await createTenant(env, user);
    const result = await callerAs(env, null).auth.logIn({ email: ` ${user.email.toUpperCase()} `, password: TEST_PASSWORD });
    expect(result.user.id).toBe(user.id);
    expect(result.tenants).toEqual([{ id: tenant.id, slug: tenant.slug, name: expect.any(String), role: "owner" }]);
    expect(result.token).not.toBe(user.token);
  });

  it("answers a wrong password and an unknown email the same way, each after one argon2id check of the same cost", async () => {
    const user = await createUser(env);
    const attempt = async (email: string) => {
      vi.mocked(verify).mockClear();
      const err = (await callerAs(env, null, { ip: unique("ip") }).auth.logIn({ email, password: "not-the-password" }).catch((e) => e)) as TRPCError;
      // What was checked, by its algorithm and cost ("argon2id", "v=19", "m=19456,t=2,p=1"), not its salt.
      const checks = vi.mocked(verify).mock.calls.map(([hash, password]) => ({ params: String(hash).split("$").slice(1, 4), password }));
      return { code: err.code, message: err.message, checks };
    };
    const wrong = await attempt(user.email);
    const unknown = await attempt(`${unique()}@example.test`);
    expect(wrong).toMatchObject({ code: "UNAUTHORIZED", message: "Email or password is incorrect." });
    expect(wrong.checks).toEqual([{ params: [expect.stringMatching(/^argon2id$/), expect.any(String), expect.any(String)], password: "not-the-password" }]);
    // Without the dummy hash an unknown email would answer without any check, many times faster (the
    // benchmark's `login` scenario measures the two times).
    expect(unknown).toEqual(wrong);
  });

  it("throttles an email from one address after the configured failures, even with the right password, and says when to retry", async () => {
    const user = await createUser(env);
    const ip = unique("ip");
    for (let i = 0; i < 5; i++) {
      expect(await codeOf(callerAs(env, null, { ip }).auth.logIn({ email: user.email, password: "wrong-password" }))).toBe("UNAUTHORIZED");
    }
    const err = (await callerAs(env, null, { ip }).auth.logIn({ email: user.email, password: TEST_PASSWORD }).catch((e) => e)) as TRPCError;
    expect(err.code).toBe("TOO_MANY_REQUESTS");
    expect(err.message).toMatch(/Try again in \d+ s/);
    // The guesser's address is locked out of that account, not the account: its owner, elsewhere, is not.
    expect(await codeOf(callerAs(env, null, { ip: unique("ip") }).auth.logIn({ email: user.email, password: TEST_PASSWORD }))).toBe("OK");
  });

  it("forgives an address's failures on an account once it logs in with the right password", async () => {
    const user = await createUser(env);
    const ip = unique("ip");
    for (let i = 0; i < 4; i++) await codeOf(callerAs(env, null, { ip }).auth.logIn({ email: user.email, password: "wrong-password" }));
    expect(await codeOf(callerAs(env, null, { ip }).auth.logIn({ email: user.email, password: TEST_PASSWORD }))).toBe("OK");
    // Four more typos are allowed again (five would lock): the success cleared the count.
    for (let i = 0; i < 4; i++) {
      expect(await codeOf(callerAs(env, null, { ip }).auth.logIn({ email: user.email, password: "wrong-password" }))).toBe("UNAUTHORIZED");
    }
  });

  it("throttles an address spraying many emails", async () => {
    const ip = unique("ip");
    for (let i = 0; i < 8; i++) {
      await codeOf(callerAs(env, null, { ip }).auth.logIn({ email: `${unique()}@example.test`, password: "whatever-pass" }));
    }
    const user = await createUser(env);
    expect(await codeOf(callerAs(env, null, { ip }).auth.logIn({ email: user.email, password: TEST_PASSWORD }))).toBe("TOO_MANY_REQUESTS");
    // Another address is not affected.
    expect(await codeOf(callerAs(env, null, { ip: unique("ip") }).auth.logIn({ email: user.email, password: TEST_PASSWORD }))).toBe("OK");
  });
});

describe("sessions", () => {
  it("me answers for a valid session and refuses without one", async () => {
    const user = await createUser(env);
    const me = await callerAs(env, user.auth).auth.me();
    expect(me.user.email).toBe(user.email);
    expect(me.session.id).toBe(user.token.split(".")[0]);
    expect(await codeOf(callerAs(env, null).auth.me())).toBe("UNAUTHORIZED");
  });

  it("log-out ends only this device's session", async () => {
    const user = await createUser(env);
    const other = await callerAs(env, null).auth.logIn({ email: user.email, password: TEST_PASSWORD });
    await callerAs(env, user.auth).auth.logOut();
    const policy = env.config.session;
    expect(await validateSessionToken({ db: env.deps.db, token: user.token, now: new Date(), policy })).toBeNull();
    expect(await validateSessionToken({ db: env.deps.db, token: other.token, now: new Date(), policy })).not.toBeNull();
  });

  it("log-out everywhere ends every session of the user", async () => {
    const user = await createUser(env);
    const second = await callerAs(env, null).auth.logIn({ email: user.email, password: TEST_PASSWORD });
    const { revoked } = await callerAs(env, user.auth).auth.logOutEverywhere();
    expect(revoked).toBe(2);
    for (const token of [user.token, second.token]) {
      expect(await validateSessionToken({ db: env.deps.db, token, now: new Date(), policy: env.config.session })).toBeNull();
    }
  });

  it("lists the user's sessions and revokes one of them, but not another user's", async () => {
    const user = await createUser(env);
    const second = await callerAs(env, null).auth.logIn({ email: user.email, password: TEST_PASSWORD });
    const list = await callerAs(env, user.auth).auth.sessions.list();
    expect(list).toHaveLength(2);
    expect(list.filter((s) => s.current).map((s) => s.id)).toEqual([user.token.split(".")[0]]);
    expect(JSON.stringify(list)).not.toContain(user.token.split(".")[1]);
    const stranger = await createUser(env);
    expect(await codeOf(callerAs(env, stranger.auth).auth.sessions.revoke({ id: second.token.split(".")[0]! }))).toBe("NOT_FOUND");
    await callerAs(env, user.auth).auth.sessions.revoke({ id: second.token.split(".")[0]! });
    expect(await callerAs(env, user.auth).auth.sessions.list()).toHaveLength(1);
  });

  it("each way of ending sessions tells the user's devices what ended; a refused revoke tells nothing, a repeated log-out still answers", async () => {
    const user = await createUser(env);
    const announced = async () =>
      ((await env.deps.redis.xrange(streamKey(user.id), "-", "+")) as Array<[string, string[]]>).map(([, fields]) => parseEntry(user.id, fields));
    const second = await callerAs(env, null).auth.logIn({ email: user.email, password: TEST_PASSWORD });
    const secondId = second.token.split(".")[0]!;
    const stranger = await createUser(env);
    expect(await codeOf(callerAs(env, stranger.auth).auth.sessions.revoke({ id: secondId }))).toBe("NOT_FOUND");
    expect(await announced()).toEqual([]);

    await callerAs(env, user.auth).auth.sessions.revoke({ id: secondId });
    expect(await codeOf(callerAs(env, user.auth).auth.sessions.revoke({ id: secondId }))).toBe("NOT_FOUND");
    // Two log-outs of one session (as in one batch): both answer, and both are announced.
    expect(await callerAs(env, user.auth).auth.logOut()).toEqual({ ok: true });
    expect(await callerAs(env, user.auth).auth.logOut()).toEqual({ ok: true });
    const third = await callerAs(env, null).auth.logIn({ email: user.email, password: TEST_PASSWORD });
    const thirdAuth = (await validateSessionToken({ db: env.deps.db, token: third.token, now: new Date(), policy: env.config.session }))!;
    expect(await callerAs(env, thirdAuth).auth.logOutEverywhere()).toEqual({ revoked: 1 });
    const currentId = user.token.split(".")[0]!;
    expect(await announced()).toEqual([
      { kind: "revoked", sessionIds: [secondId] },
      { kind: "revoked", sessionIds: [currentId] },
      { kind: "revoked", sessionIds: [currentId] },
      { kind: "revoked", sessionIds: "all" },
    ]);
  });

  it("rejects a token whose secret is wrong, and garbage tokens", async () => {
    const user = await createUser(env);
    const [id, secret] = user.token.split(".") as [string, string];
    const tampered = `${id}.${secret.slice(0, -1)}${secret.endsWith("a") ? "b" : "a"}`;
    for (const token of [tampered, "nonsense", `${id}.`, ""]) {
      expect(await validateSessionToken({ db: env.deps.db, token, now: new Date(), policy: env.config.session })).toBeNull();
    }
  });

  it("expires after the inactivity timeout and after the absolute lifetime, refreshing last-seen at most hourly", async () => {
    const user = await createUser(env);
    const policy = env.config.session; // 14 days idle, 30 days absolute
    const start = new Date();
    const at = (ms: number) => new Date(start.getTime() + ms);
    const lastSeen = async () =>
      (await env.deps.db.select({ t: sessions.lastSeenAt }).from(sessions).where(eq(sessions.id, user.token.split(".")[0]!)))[0]?.t.getTime();
    const before = await lastSeen();

    expect(await validateSessionToken({ db: env.deps.db, token: user.token, now: at(30 * 60_000), policy })).not.toBeNull();
    expect(await lastSeen()).toBe(before); // under an hour: no write
    expect(await validateSessionToken({ db: env.deps.db, token: user.token, now: at(2 * 3_600_000), policy })).not.toBeNull();
    expect(await lastSeen()).toBe(at(2 * 3_600_000).getTime());

    // Kept active every 10 days, it survives the idle limit but not the absolute one.
    for (const day of [10, 20, 29]) {
      expect(await validateSessionToken({ db: env.deps.db, token: user.token, now: at(day * DAY), policy })).not.toBeNull();
    }
    expect(await validateSessionToken({ db: env.deps.db, token: user.token, now: at(30 * DAY + 1000), policy })).toBeNull();

    const idle = await createUser(env);
    expect(await validateSessionToken({ db: env.deps.db, token: idle.token, now: at(13 * DAY), policy })).not.toBeNull();
    expect(await validateSessionToken({ db: env.deps.db, token: idle.token, now: at(27 * DAY + 1000), policy })).toBeNull();
  });

});
