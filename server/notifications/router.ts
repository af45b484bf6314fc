import { z } from "zod";
import { NoInput } from "../common-schemas";
import { authedProcedure, router } from "../trpc";
import { ListNotificationsInput, ListNotificationsOutput, MarkReadInput, type Notification } from "./schemas";
import { countUnread, listNotifications, markRead } from "./service";
import { announce } from "./stream";

/** The user's own notifications across all their tenants: no x-tenant-id needed. */
export const notificationsRouter = router({
  list: authedProcedure
    .input(ListNotificationsInput)
    .output(ListNotificationsOutput)
    .query(async ({ ctx, input }) => {
      const page = await listNotifications(ctx.db, { userId: ctx.auth.user.id, ...input, cursorSecret: ctx.config.appSecret.value });
      return { items: page.items.map(({ userId: _u, ...n }) => n as Notification), nextCursor: page.nextCursor };
    }),

  unreadCount: authedProcedure
    .input(NoInput)
    .output(z.object({ count: z.number().int() }))
    .query(({ ctx }) => countUnread(ctx.db, ctx.auth.user.id)),

  /** Marks some of the caller's notifications read; their other devices hear of it live. */
  markRead: authedProcedure
    .input(MarkReadInput)
    .output(z.object({ updated: z.array(z.uuid()) }))
    .mutation(async ({ ctx, input }) => {
      const updated = await markRead(ctx.db, { userId: ctx.auth.user.id, ids: input.ids, now: ctx.clock() });
      if (updated.length) await announce(ctx, ctx.auth.user.id, { kind: "read", ids: updated });
      return { updated };
    }),

  markAllRead: authedProcedure
    .input(NoInput)
    .output(z.object({ updated: z.number().int() }))
    .mutation(async ({ ctx }) => {
      const updated = await markRead(ctx.db, { userId: ctx.auth.user.id, now: ctx.clock() });
      await announce(ctx, ctx.auth.user.id, { kind: "read", ids: "all" });
      return { updated: updated.length };
    }),
});
