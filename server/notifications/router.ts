import { z } from "zod";
import { NoInput } from "../common-schemas";
import { router, userProcedure } from "../trpc";
import { ListNotificationsInput, ListNotificationsOutput, MarkReadInput, type Notification } from "./schemas";
import { countUnread, listNotifications, markRead } from "./service";
import { announce } from "./stream";

/** The user's own notifications across all their tenants: no x-tenant-id needed. */
export const notificationsRouter = router({
  list: userProcedure
    .input(ListNotificationsInput)
    .output(ListNotificationsOutput)
    .query(async ({ ctx, input }) => {
      const page = await listNotifications({ db: ctx.db, userId: ctx.auth.user.id, ...input, cursorSecret: ctx.config.appSecret.value });
      return { items: page.items.map(({ userId: _u, ...n }) => n as Notification), nextCursor: page.nextCursor };
    }),

  unreadCount: userProcedure
    .input(NoInput)
    /** `seq`: the user's latest notification when counted; the count covers exactly those up to it. */
    .output(z.object({ count: z.number().int(), seq: z.number().int() }))
    .query(({ ctx }) => countUnread({ db: ctx.db, userId: ctx.auth.user.id })),

  /** Marks some of the caller's notifications read; their other devices hear of it live, once it has committed. */
  markRead: userProcedure
    .input(MarkReadInput)
    .output(z.object({ updated: z.array(z.uuid()) }))
    .mutation(async ({ ctx, input }) => {
      const userId = ctx.auth.user.id;
      const updated = await markRead({ db: ctx.db, userId, ids: input.ids, now: ctx.clock() });
      if (updated.length) ctx.afterCommit(() => announce({ redis: ctx.redis, stream: ctx.config.stream, log: ctx.log, userId, event: { kind: "read", ids: updated } }));
      return { updated };
    }),

  markAllRead: userProcedure
    .input(NoInput)
    .output(z.object({ updated: z.number().int() }))
    .mutation(async ({ ctx }) => {
      const userId = ctx.auth.user.id;
      const updated = await markRead({ db: ctx.db, userId, now: ctx.clock() });
      ctx.afterCommit(() => announce({ redis: ctx.redis, stream: ctx.config.stream, log: ctx.log, userId, event: { kind: "read", ids: "all" } }));
      return { updated: updated.length };
    }),
});
