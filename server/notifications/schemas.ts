import { z } from "zod";
import { Cursor } from "../common-schemas";

const HireRef = { hireId: z.uuid(), tenantId: z.uuid() };

/** What the original system put in the stream on a hire, plus the hire and the tenant. */
export const HireRequestedPayload = z.object({
  ...HireRef,
  /** The recipient (the provider), as the original `user_id` field. */
  userId: z.uuid(),
  clientId: z.uuid(),
  fullName: z.string(),
  phoneNumber: z.string().nullable(),
  location: z.string(),
  /** When the job starts (ISO 8601). */
  time: z.iso.datetime(),
  endsAt: z.iso.datetime().nullable(),
  jobDescription: z.string(),
});

/** A later step of a hire, told to the other party. */
export const HireStepPayload = z.object({
  ...HireRef,
  userId: z.uuid(),
  status: z.enum(["accepted", "declined", "cancelled", "completed"]),
  byUserId: z.uuid(),
  byName: z.string(),
  time: z.iso.datetime(),
  jobDescription: z.string(),
});

const NotificationBase = {
  id: z.uuid(),
  /** Per-recipient position, in commit order: resume and ordering rely on it. */
  seq: z.number().int().positive(),
  tenant: z.object({ id: z.uuid(), slug: z.string(), name: z.string() }),
  createdAt: z.iso.datetime(),
  readAt: z.iso.datetime().nullable(),
};

/** Every notification, discriminated by `type`: a `switch (n.type)` narrows `n.payload`. */
export const Notification = z.discriminatedUnion("type", [
  z.object({ ...NotificationBase, type: z.literal("hire.requested"), payload: HireRequestedPayload }),
  z.object({ ...NotificationBase, type: z.literal("hire.accepted"), payload: HireStepPayload }),
  z.object({ ...NotificationBase, type: z.literal("hire.declined"), payload: HireStepPayload }),
  z.object({ ...NotificationBase, type: z.literal("hire.cancelled"), payload: HireStepPayload }),
  z.object({ ...NotificationBase, type: z.literal("hire.completed"), payload: HireStepPayload }),
]);
export type Notification = z.infer<typeof Notification>;
export type NotificationType = Notification["type"];
export type HireRequestedPayload = z.infer<typeof HireRequestedPayload>;
export type HireStepPayload = z.infer<typeof HireStepPayload>;

export const ListNotificationsInput = z
  .object({
    unreadOnly: z.boolean().default(false),
    /** A tenant id, to see one tenant's notifications only. */
    tenant: z.uuid().optional(),
    /** The previous page's `nextCursor` (opaque and signed), with the same `unreadOnly` and `tenant`. */
    cursor: Cursor.optional(),
    limit: z.number().int().min(1).max(100).default(30),
  })
  .strict()
  .default({ unreadOnly: false, limit: 30 });

export const ListNotificationsOutput = z.object({ items: z.array(Notification), nextCursor: z.string().nullable() });

export const MarkReadInput = z.object({ ids: z.array(z.uuid()).min(1, "must name at least one notification").max(500) }).strict();
