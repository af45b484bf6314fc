import { z } from "zod";
import { Cursor } from "../common-schemas";

export const AuditListInput = z
  .object({
    /** The previous page's `nextCursor` (opaque and signed), with the same filters. */
    cursor: Cursor.optional(),
    actorId: z.uuid().optional(),
    entityType: z.string().min(1).max(64).optional(),
    action: z.string().min(1).max(64).optional(),
    limit: z.number().int().min(1).max(100).default(50),
  })
  .default({ limit: 50 });
export type AuditListInput = z.infer<typeof AuditListInput>;

export const AuditEntryOutput = z.object({
  id: z.uuid(),
  actorUserId: z.uuid().nullable(),
  actorSessionId: z.string().nullable(),
  action: z.string(),
  entityType: z.string(),
  entityId: z.string(),
  changes: z.record(z.string(), z.unknown()),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  requestId: z.string().nullable(),
  createdAt: z.iso.datetime(),
});

export const AuditListOutput = z.object({ items: z.array(AuditEntryOutput), nextCursor: z.string().nullable() });
