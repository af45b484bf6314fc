import { z } from "zod";
import { NoInput } from "../common-schemas";
import type { Auth, Context } from "../context";
import { authedProcedure, publicProcedure, rateLimited, router, userProcedure } from "../trpc";
import { clearedSessionCookie, sessionCookie } from "./cookies";
import {
  AuthResultOutput,
  LogInInput,
  MeOutput,
  SessionIdInput,
  SessionOutput,
  SignUpInput,
  UserOutput,
} from "./schemas";
import { listSessions, listUserTenants, logIn, revokeSessions, signUp, type SessionsToRevoke } from "./service";

/** The three ways of ending sessions share one service; the cookie stays the router's. */
function revoke(ctx: Pick<Context, "db" | "sessionCache" | "redis" | "config" | "log"> & { auth: Auth }, sessions: SessionsToRevoke) {
  return revokeSessions({ db: ctx.db, sessionCache: ctx.sessionCache, redis: ctx.redis, stream: ctx.config.stream, log: ctx.log, userId: ctx.auth.user.id, sessions });
}

export const authRouter = router({
  /** Creates an account and a session, rate-limited per address. Browsers also get the session cookie. */
  signUp: publicProcedure
    .input(SignUpInput)
    .use(rateLimited("signUp"))
    .output(AuthResultOutput)
    .mutation(async ({ ctx, input }) => {
      const result = await signUp({
        db: ctx.db,
        input,
        now: ctx.clock(),
        policy: ctx.config.session,
        client: { ip: ctx.request.ip, userAgent: ctx.request.userAgent },
        throttle: ctx.loginThrottle,
      });
      ctx.response.setCookie(sessionCookie(result.token, { maxAgeMs: ctx.config.session.absoluteMs, secure: ctx.config.cookieSecure }));
      return result;
    }),

  logIn: publicProcedure
    .input(LogInInput)
    .output(AuthResultOutput)
    .mutation(async ({ ctx, input }) => {
      const result = await logIn({
        db: ctx.db,
        input,
        now: ctx.clock(),
        policy: ctx.config.session,
        client: { ip: ctx.request.ip, userAgent: ctx.request.userAgent },
        throttle: ctx.loginThrottle,
        onPasswordCheck: () => ctx.metrics.loginPasswordChecks.inc(),
      });
      ctx.response.setCookie(sessionCookie(result.token, { maxAgeMs: ctx.config.session.absoluteMs, secure: ctx.config.cookieSecure }));
      return result;
    }),

  /** Ends this device's session. */
  logOut: authedProcedure
    .input(NoInput)
    .output(z.object({ ok: z.literal(true) }))
    .mutation(async ({ ctx }) => {
      await revoke(ctx, { kind: "current", sessionId: ctx.auth.session.id });
      ctx.response.setCookie(clearedSessionCookie(ctx.config.cookieSecure));
      return { ok: true as const };
    }),

  /** Ends every session of the user, this one included. */
  logOutEverywhere: authedProcedure
    .input(NoInput)
    .output(z.object({ revoked: z.number().int() }))
    .mutation(async ({ ctx }) => {
      const ids = await revoke(ctx, { kind: "all" });
      ctx.response.setCookie(clearedSessionCookie(ctx.config.cookieSecure));
      return { revoked: ids.length };
    }),

  me: userProcedure
    .input(NoInput)
    .output(MeOutput)
    .query(async ({ ctx }) => ({
      user: UserOutput.parse(ctx.auth.user),
      tenants: await listUserTenants({ db: ctx.db, userId: ctx.auth.user.id }),
      session: { id: ctx.auth.session.id, expiresAt: ctx.auth.session.expiresAt.toISOString() },
    })),

  sessions: router({
    /** The user's active sessions (devices), the current one flagged. */
    list: authedProcedure
      .input(NoInput)
      .output(z.array(SessionOutput))
      .query(({ ctx }) =>
        listSessions({ db: ctx.db, userId: ctx.auth.user.id, currentId: ctx.auth.session.id, policy: ctx.config.session }),
      ),

    revoke: authedProcedure
      .input(SessionIdInput)
      .output(z.object({ ok: z.literal(true) }))
      .mutation(async ({ ctx, input }) => {
        await revoke(ctx, { kind: "one", sessionId: input.id });
        if (input.id === ctx.auth.session.id) ctx.response.setCookie(clearedSessionCookie(ctx.config.cookieSecure));
        return { ok: true as const };
      }),
  }),
});
