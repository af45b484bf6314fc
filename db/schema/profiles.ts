import { sql } from "drizzle-orm";
import {
  boolean,
  char,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { createdAt, id, updatedAt } from "./columns";
import { tenantId } from "./tenants";
import { users } from "./users";

export const providerKinds = ["tutor", "housekeeper", "senior_caregiver"] as const;
export const providerKind = pgEnum("provider_kind", providerKinds);

export type AvailabilitySlot = { day: "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun"; start: string; end: string };
export type HistoryEntry = { institution: string; title: string; from: string; to: string | null };
/** The current picture: the content hash and the storage key of each rendition. */
export type PhotoSet = { hash: string; keys: { thumb: string; square: string; standard: string } };

const tsvector = customType<{ data: string }>({ dataType: () => "tsvector" });
const emptyTextArray = sql`'{}'::text[]`;

/**
 * A provider's profile in one tenant. The kind's attributes live in arrays (GIN-indexed) so
 * "offers at least these services" is an indexed `@>`; the public location is indexed as a point on
 * the earth (cube + earthdistance) for radius search and nearest-first ordering. The exact location
 * is for its provider's own view only, and indexed for nothing.
 */
export const providerProfiles = pgTable(
  "provider_profiles",
  {
    id: id(),
    tenantId: tenantId(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    kind: providerKind().notNull(),
    headline: text().notNull(),
    about: text().notNull().default(""),
    hourlyRateCents: integer().notNull(),
    currency: char({ length: 3 }).notNull(),
    availability: jsonb().$type<AvailabilitySlot[]>().notNull().default([]),
    city: text().notNull(),
    lat: doublePrecision().notNull(),
    lng: doublePrecision().notNull(),
    /**
     * The public location: the exact one snapped to a fixed 0.01° grid (about 1.1 km by 0.8 km in Italy),
     * the one point public views show and the only one search uses (server/profiles/location.ts).
     */
    publicLat: doublePrecision().notNull().generatedAlwaysAs(sql`floor("lat" * 100 + 0.5) / 100`),
    publicLng: doublePrecision().notNull().generatedAlwaysAs(sql`floor("lng" * 100 + 0.5) / 100`),
    serviceRadiusKm: integer().notNull(),
    education: jsonb().$type<HistoryEntry[]>().notNull().default([]),
    experiences: jsonb().$type<HistoryEntry[]>().notNull().default([]),
    subjects: text().array().notNull().default(emptyTextArray),
    levels: text().array().notNull().default(emptyTextArray),
    schoolYears: integer().array().notNull().default(sql`'{}'::integer[]`),
    tasks: text().array().notNull().default(emptyTextArray),
    services: text().array().notNull().default(emptyTextArray),
    published: boolean().notNull().default(false),
    photo: jsonb().$type<PhotoSet>(),
    searchText: tsvector().generatedAlwaysAs(
      sql`to_tsvector('simple'::regconfig, coalesce(headline, '') || ' ' || coalesce(about, ''))`,
    ),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex().on(t.tenantId, t.userId),
    index("provider_profiles_tenant_public_earth_idx").using("gist", t.tenantId, sql`ll_to_earth(${t.publicLat}, ${t.publicLng})`),
    index("provider_profiles_tenant_kind_rate_idx").on(t.tenantId, t.kind, t.hourlyRateCents, t.id),
    index("provider_profiles_tenant_kind_id_idx").on(t.tenantId, t.kind, t.id),
    index("provider_profiles_services_idx").using("gin", t.services),
    index("provider_profiles_subjects_idx").using("gin", t.subjects),
    index("provider_profiles_levels_idx").using("gin", t.levels),
    index("provider_profiles_tasks_idx").using("gin", t.tasks),
    index("provider_profiles_search_idx").using("gin", t.searchText),
  ],
);
