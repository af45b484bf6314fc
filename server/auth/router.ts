import { z } from "zod";
import { NoInput } from "../common-schemas";
import { authedProcedure, publicProcedure, rateLimited, router } from "../trpc";
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
import { listSessions, listUserTenants, logIn, revokeSession, signUp } from "./service";
import { deleteSession, deleteUserSessions } from "./sessions";
import { announce } from "../notifications/stream";

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
      await deleteSession(ctx.db, ctx.auth.session.id);
      await ctx.sessionCache.revoke({ userId: ctx.auth.user.id, sessionIds: [ctx.auth.session.id] });
      await announce(ctx, ctx.auth.user.id, { kind: "revoked", sessionIds: [ctx.auth.session.id] });
      ctx.response.setCookie(clearedSessionCookie(ctx.config.cookieSecure));
      return { ok: true as const };
    }),

  /** Ends every session of the user, this one included. */
  logOutEverywhere: authedProcedure
    .input(NoInput)
    .output(z.object({ revoked: z.number().int() }))
    .mutation(async ({ ctx }) => {
      const ids = await deleteUserSessions(ctx.db, ctx.auth.user.id);
      await ctx.sessionCache.revoke({ userId: ctx.auth.user.id, sessionIds: "all" });
      await announce(ctx, ctx.auth.user.id, { kind: "revoked", sessionIds: "all" });
      ctx.response.setCookie(clearedSessionCookie(ctx.config.cookieSecure));
      return { revoked: ids.length };
    }),

  me: authedProcedure
    .input(NoInput)
    .output(MeOutput)
    .query(async ({ ctx }) => ({
      user: UserOutput.parse(ctx.auth.user),
      tenants: await listUserTenants(ctx.db, ctx.auth.user.id),
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
        await revokeSession({ db: ctx.db, userId: ctx.auth.user.id, sessionId: input.id });
        await ctx.sessionCache.revoke({ userId: ctx.auth.user.id, sessionIds: [input.id] });
        await announce(ctx, ctx.auth.user.id, { kind: "revoked", sessionIds: [input.id] });
        if (input.id === ctx.auth.session.id) ctx.response.setCookie(clearedSessionCookie(ctx.config.cookieSecure));
        return { ok: true as const };
      }),
  }),
});
