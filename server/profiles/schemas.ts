import { z } from "zod";
import { Cursor, Latitude, Longitude } from "../common-schemas";

/** The ISO 4217 currencies this Node knows (its ICU data): "ZZZ" is shaped like one but is none. */
const CURRENCIES = new Set(Intl.supportedValuesOf("currency"));

export const TUTOR_LEVELS = ["primary", "middle", "high_school", "university"] as const;
export const HOUSEKEEPER_TASKS = [
  "cleaning", "deep_cleaning", "laundry", "ironing", "cooking", "dishes", "shopping",
  "errands", "window_cleaning", "organizing", "pet_care", "gardening",
] as const;
export const CAREGIVER_SERVICES = [
  "transportation", "household_tasks", "personal_care", "mobility_assistance", "companionship", "specialized_care",
] as const;
export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

const time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be a time HH:MM");
const yearMonth = z
  .string()
  .regex(/^\d{4}(-(0[1-9]|1[0-2]))?$/, "must be YYYY or YYYY-MM")
  .refine((v) => Number(v.slice(0, 4)) >= 1900 && Number(v.slice(0, 4)) <= 2100, "must be a year from 1900 to 2100");
const uniqueList = <T extends z.ZodType>(item: T, max: number) =>
  z
    .array(item)
    .max(max, `must have at most ${max} entries`)
    .refine((xs) => new Set(xs).size === xs.length, "must not repeat an entry");

export const AvailabilitySlot = z
  .object({ day: z.enum(WEEKDAYS), start: time, end: time })
  .refine((s) => s.start < s.end, { message: "must end after it starts", path: ["end"] });

export const HistoryEntry = z
  .object({
    institution: z.string().trim().min(1).max(120),
    title: z.string().trim().min(1).max(120),
    from: yearMonth,
    to: yearMonth.nullable().default(null),
  })
  .refine((e) => e.to === null || e.from <= e.to, { message: "must not be before from", path: ["to"] });

/** The highest hourly rate a profile may ask (1,000.00 an hour), and so the highest a search may filter by. */
export const MAX_RATE_CENTS = 100_000;
const RateFilter = z.number().int("must be whole cents").min(0, "must not be negative").max(MAX_RATE_CENTS, `must be at most ${MAX_RATE_CENTS}`);

/** Search radii: from 100 m (finer than the public ~1 km point is meaningless) to 1,000 km. */
export const MIN_RADIUS_KM = 0.1;
export const MAX_RADIUS_KM = 1000;

const Subject = z.string().trim().toLowerCase().min(2).max(40);

const SharedProfileFields = {
  headline: z.string().trim().min(5).max(120),
  about: z.string().trim().max(4000).default(""),
  hourlyRateCents: z.number().int("must be whole cents").min(100, "must be at least 100 (1.00)").max(MAX_RATE_CENTS, `must be at most ${MAX_RATE_CENTS}`),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as EUR")
    .refine((c) => CURRENCIES.has(c), "is not an ISO 4217 currency code (e.g. EUR, CHF, GBP)")
    .default("EUR"),
  availability: z.array(AvailabilitySlot).max(28).default([]),
  city: z.string().trim().min(2).max(80),
  lat: Latitude,
  lng: Longitude,
  serviceRadiusKm: z.number().int().min(1).max(500),
  education: z.array(HistoryEntry).max(20).default([]),
  experiences: z.array(HistoryEntry).max(30).default([]),
  published: z.boolean().default(false),
};

/** Another kind's attribute sent by mistake gets an error on that field saying whose it is. */
const belongsTo = (kind: string) => z.never({ error: `is a ${kind} attribute: it does not fit this profile's kind` }).optional();
const TUTOR_ONLY = { subjects: belongsTo("tutor"), levels: belongsTo("tutor"), schoolYears: belongsTo("tutor") };
const HOUSEKEEPER_ONLY = { tasks: belongsTo("housekeeper") };
const CAREGIVER_ONLY = { services: belongsTo("senior_caregiver") };

/** What a provider sends: the shared fields plus their kind's attributes (a discriminated union on `kind`). */
export const UpsertProfileInput = z.discriminatedUnion("kind", [
  z
    .object({
      kind: z.literal("tutor"),
      ...SharedProfileFields,
      ...HOUSEKEEPER_ONLY,
      ...CAREGIVER_ONLY,
      subjects: uniqueList(Subject, 20).min(1, "must name at least one subject"),
      levels: uniqueList(z.enum(TUTOR_LEVELS), 4).min(1, "must name at least one level"),
      schoolYears: uniqueList(z.number().int().min(1).max(13), 13).default([]),
    })
    .strict(),
  z
    .object({
      kind: z.literal("housekeeper"),
      ...SharedProfileFields,
      ...TUTOR_ONLY,
      ...CAREGIVER_ONLY,
      tasks: uniqueList(z.enum(HOUSEKEEPER_TASKS), HOUSEKEEPER_TASKS.length).min(1, "must name at least one task"),
    })
    .strict(),
  z
    .object({
      kind: z.literal("senior_caregiver"),
      ...SharedProfileFields,
      ...TUTOR_ONLY,
      ...HOUSEKEEPER_ONLY,
      services: uniqueList(z.enum(CAREGIVER_SERVICES), CAREGIVER_SERVICES.length).min(1, "must name at least one service"),
    })
    .strict(),
]);
export type UpsertProfileInput = z.infer<typeof UpsertProfileInput>;

export const ProfileIdInput = z.object({ id: z.uuid() });

export const SearchProfilesInput = z
  .object({
    kind: z.enum(["tutor", "housekeeper", "senior_caregiver"]).optional(),
    services: uniqueList(z.enum(CAREGIVER_SERVICES), CAREGIVER_SERVICES.length).optional(),
    subjects: uniqueList(Subject, 20).optional(),
    levels: uniqueList(z.enum(TUTOR_LEVELS), 4).optional(),
    tasks: uniqueList(z.enum(HOUSEKEEPER_TASKS), HOUSEKEEPER_TASKS.length).optional(),
    minRateCents: RateFilter.optional(),
    maxRateCents: RateFilter.optional(),
    text: z.string().trim().min(1).max(200).optional(),
    near: z
      .object({
        lat: Latitude,
        lng: Longitude,
        radiusKm: z.number().min(MIN_RADIUS_KM, `must be at least ${MIN_RADIUS_KM}`).max(MAX_RADIUS_KM, `must be at most ${MAX_RADIUS_KM}`),
      })
      .optional(),
    sort: z.enum(["distance", "rate", "newest"]).optional(),
    cursor: Cursor.optional(),
    limit: z.number().int().min(1).max(50, "must be at most 50").default(20),
  })
  .strict()
  .superRefine((input, ctx) => {
    const owners = { services: "senior_caregiver", subjects: "tutor", levels: "tutor", tasks: "housekeeper" } as const;
    for (const [field, kind] of Object.entries(owners)) {
      if (input[field as keyof typeof owners] && input.kind !== kind) {
        ctx.addIssue({ code: "custom", path: [field], message: `filters ${kind} profiles: set kind to "${kind}"` });
      }
    }
    if (input.minRateCents !== undefined && input.maxRateCents !== undefined && input.minRateCents > input.maxRateCents) {
      ctx.addIssue({ code: "custom", path: ["maxRateCents"], message: "must not be below minRateCents" });
    }
    if (input.sort === "distance" && !input.near) {
      ctx.addIssue({ code: "custom", path: ["sort"], message: "sorting by distance needs near: { lat, lng, radiusKm }" });
    }
  });
export type SearchProfilesInput = z.infer<typeof SearchProfilesInput>;

export const PhotoUrls = z.object({ thumb: z.url(), square: z.url(), standard: z.url() });

const HistoryOutput = z.object({ institution: z.string(), title: z.string(), from: z.string(), to: z.string().nullable() });

const PublicShared = {
  id: z.uuid(),
  userId: z.uuid(),
  firstName: z.string(),
  lastName: z.string(),
  headline: z.string(),
  about: z.string(),
  hourlyRateCents: z.number().int(),
  currency: z.string(),
  availability: z.array(z.object({ day: z.enum(WEEKDAYS), start: z.string(), end: z.string() })),
  city: z.string(),
  /** The public point in public views (a 0.01° grid cell's centre, profiles/location.ts): a provider's exact location is their home. */
  lat: z.number(),
  lng: z.number(),
  serviceRadiusKm: z.number().int(),
  education: z.array(HistoryOutput),
  experiences: z.array(HistoryOutput),
  published: z.boolean(),
  photo: PhotoUrls.nullable(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
};

/** A profile as members of the tenant see it: no email, no phone, no exact coordinates. */
export const ProfileOutput = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("tutor"), ...PublicShared, subjects: z.array(z.string()), levels: z.array(z.enum(TUTOR_LEVELS)), schoolYears: z.array(z.number().int()) }),
  z.object({ kind: z.literal("housekeeper"), ...PublicShared, tasks: z.array(z.enum(HOUSEKEEPER_TASKS)) }),
  z.object({ kind: z.literal("senior_caregiver"), ...PublicShared, services: z.array(z.enum(CAREGIVER_SERVICES)) }),
]);
export type ProfileOutput = z.infer<typeof ProfileOutput>;

export const SearchResultOutput = z.object({
  /** `distanceKm`: from the search point to the provider's public point, to 0.1 km (null without `near`). */
  items: z.array(z.intersection(ProfileOutput, z.object({ distanceKm: z.number().nullable() }))),
  nextCursor: z.string().nullable(),
});

export const PhotoUploadInput = z.instanceof(FormData, { message: "must be multipart form data with the image in the field file" });
