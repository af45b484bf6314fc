import { z } from "zod";
import { hireStatuses } from "../../db/schema";
import { Cursor, Instant, Latitude, Longitude } from "../common-schemas";

/** The longest a hire may last: `endsAt` at most this long after `startsAt`. */
export const MAX_HIRE_MS = 7 * 86_400_000;
/** How far ahead a hire may start (checked against the server's clock in createHire, with "not in the past"). */
export const MAX_HIRE_LEAD_MS = 2 * 365 * 86_400_000;

export const CreateHireInput = z
  .object({
    /** The provider's user id, as `userId` in search results. */
    providerId: z.uuid(),
    jobDescription: z.string().trim().min(10, "must be at least 10 characters").max(4000),
    location: z.string().trim().min(2).max(200),
    lat: Latitude.optional(),
    lng: Longitude.optional(),
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
    } else if (input.endsAt && Date.parse(input.endsAt) - Date.parse(input.startsAt) > MAX_HIRE_MS) {
      ctx.addIssue({ code: "custom", path: ["endsAt"], message: "must be at most 7 days after startsAt" });
    }
  });
export type CreateHireInput = z.infer<typeof CreateHireInput>;

export const HireIdInput = z.object({ id: z.uuid() }).strict();

export const ListHiresInput = z
  .object({
    as: z.enum(["client", "provider"]),
    status: z.enum(hireStatuses).optional(),
    cursor: Cursor.optional(),
    limit: z.number().int().min(1).max(100).default(20),
  })
  .strict();
export type ListHiresInput = z.infer<typeof ListHiresInput>;

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

/** `nextCursor`: opaque and signed; pass it back as `cursor` with the same `as` and `status`. */
export const ListHiresOutput = z.object({ items: z.array(HireOutput), nextCursor: z.string().nullable() });
