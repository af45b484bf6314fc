import { z } from "zod";
import { hireStatuses } from "../../db/schema";

const Instant = z.iso.datetime({ offset: true, message: "must be an ISO 8601 date-time, e.g. 2026-12-01T09:00:00Z" });

export const CreateHireInput = z
  .object({
    /** The provider's user id, as `userId` in search results. */
    providerId: z.uuid(),
    jobDescription: z.string().trim().min(10, "must be at least 10 characters").max(4000),
    location: z.string().trim().min(2).max(200),
    lat: z.number().min(-90).max(90).optional(),
    lng: z.number().min(-180).max(180).optional(),
    startsAt: Instant,
    endsAt: Instant.optional(),
  })
  .strict()
  .superRefine((input, ctx) => {
    if ((input.lat === undefined) !== (input.lng === undefined)) {
      ctx.addIssue({ code: "custom", path: [input.lat === undefined ? "lat" : "lng"], message: "lat and lng go together" });
    }
    if (input.endsAt && Date.parse(input.endsAt) <= Date.parse(input.startsAt)) {
      ctx.addIssue({ code: "custom", path: ["endsAt"], message: "must be after startsAt" });
    }
  });
export type CreateHireInput = z.infer<typeof CreateHireInput>;

export const HireIdInput = z.object({ id: z.uuid() }).strict();

export const ListHiresInput = z
  .object({
    as: z.enum(["client", "provider"]),
    status: z.enum(hireStatuses).optional(),
    cursor: z.uuid().optional(),
    limit: z.number().int().min(1).max(100).default(20),
  })
  .strict();

export const HireOutput = z.object({
  id: z.uuid(),
  tenantId: z.uuid(),
  clientId: z.uuid(),
  providerId: z.uuid(),
  status: z.enum(hireStatuses),
  jobDescription: z.string(),
  location: z.string(),
  lat: z.number().nullable(),
  lng: z.number().nullable(),
  startsAt: z.iso.datetime(),
  endsAt: z.iso.datetime().nullable(),
  clientFullName: z.string(),
  clientPhone: z.string().nullable(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type HireOutput = z.infer<typeof HireOutput>;

export const ListHiresOutput = z.object({ items: z.array(HireOutput), nextCursor: z.uuid().nullable() });
