import { and, eq, sql } from "drizzle-orm";
import type { Database, Transaction } from "../../db/client";
import { memberships, providerProfiles, users } from "../../db/schema";
import { recordAudit, type AuditActor } from "../audit/service";
import { AppError } from "../errors";
import type { MediaStorage } from "../media/storage";
import type { TenantRole } from "../tenants/resolve";
import type { ProfileOutput, UpsertProfileInput } from "./schemas";

/** The columns every profile view reads; never the user's email or phone. Public views show `publicLat`, `publicLng` (profiles/location.ts). */
export const profileColumns = {
  id: providerProfiles.id,
  userId: providerProfiles.userId,
  kind: providerProfiles.kind,
  firstName: users.firstName,
  lastName: users.lastName,
  headline: providerProfiles.headline,
  about: providerProfiles.about,
  hourlyRateCents: providerProfiles.hourlyRateCents,
  currency: providerProfiles.currency,
  availability: providerProfiles.availability,
  city: providerProfiles.city,
  lat: providerProfiles.lat,
  lng: providerProfiles.lng,
  publicLat: providerProfiles.publicLat,
  publicLng: providerProfiles.publicLng,
  serviceRadiusKm: providerProfiles.serviceRadiusKm,
  education: providerProfiles.education,
  experiences: providerProfiles.experiences,
  subjects: providerProfiles.subjects,
  levels: providerProfiles.levels,
  schoolYears: providerProfiles.schoolYears,
  tasks: providerProfiles.tasks,
  services: providerProfiles.services,
  published: providerProfiles.published,
  photo: providerProfiles.photo,
  createdAt: providerProfiles.createdAt,
  updatedAt: providerProfiles.updatedAt,
};

type ProfileRow = {
  [K in keyof typeof profileColumns]: (typeof profileColumns)[K]["_"]["data"] extends infer D
    ? (typeof profileColumns)[K]["_"]["notNull"] extends true
      ? D
      : D | null
    : never;
};

/** Row to API shape. `exact` keeps the coordinates for the profile's own provider; others see the public point. */
export function toProfileOutput(row: ProfileRow, storage: MediaStorage, opts: { exact: boolean }): ProfileOutput {
  const shared = {
    id: row.id,
    userId: row.userId,
    firstName: row.firstName,
    lastName: row.lastName,
    headline: row.headline,
    about: row.about,
    hourlyRateCents: row.hourlyRateCents,
    currency: row.currency,
    availability: row.availability,
    city: row.city,
    lat: opts.exact ? row.lat : row.publicLat,
    lng: opts.exact ? row.lng : row.publicLng,
    serviceRadiusKm: row.serviceRadiusKm,
    education: row.education,
    experiences: row.experiences,
    published: row.published,
    photo: row.photo
      ? { thumb: storage.urlFor(row.photo.keys.thumb), square: storage.urlFor(row.photo.keys.square), standard: storage.urlFor(row.photo.keys.standard) }
      : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
  switch (row.kind) {
    case "tutor":
      return { kind: "tutor", ...shared, subjects: row.subjects, levels: row.levels as Extract<ProfileOutput, { kind: "tutor" }>["levels"], schoolYears: row.schoolYears };
    case "housekeeper":
      return { kind: "housekeeper", ...shared, tasks: row.tasks as Extract<ProfileOutput, { kind: "housekeeper" }>["tasks"] };
    case "senior_caregiver":
      return { kind: "senior_caregiver", ...shared, services: row.services as Extract<ProfileOutput, { kind: "senior_caregiver" }>["services"] };
  }
}

function selectProfiles(db: Database) {
  return db.select(profileColumns).from(providerProfiles).innerJoin(users, eq(users.id, providerProfiles.userId));
}

export type FindOwnProfileRowOptions = { db: Transaction; tenantId: string; userId: string };

export async function findOwnProfileRow({ db, tenantId, userId }: FindOwnProfileRowOptions) {
  const [row] = await selectProfiles(db)
    .where(and(eq(providerProfiles.tenantId, tenantId), eq(providerProfiles.userId, userId)))
    .limit(1);
  return row ?? null;
}

export type UpsertMyProfileOptions = { db: Transaction; tenantId: string; userId: string; input: UpsertProfileInput; actor: AuditActor; storage: MediaStorage };

/**
 * Creates or replaces the caller's profile in this tenant. Changing kind clears the other
 * kinds' attributes, so a profile never carries two kinds' worth.
 */
export async function upsertMyProfile({ db, tenantId, userId, input, actor, storage }: UpsertMyProfileOptions) {
  const values = {
    kind: input.kind,
    headline: input.headline,
    about: input.about,
    hourlyRateCents: input.hourlyRateCents,
    currency: input.currency,
    availability: input.availability,
    city: input.city,
    lat: input.lat,
    lng: input.lng,
    serviceRadiusKm: input.serviceRadiusKm,
    education: input.education,
    experiences: input.experiences,
    published: input.published,
    subjects: input.kind === "tutor" ? input.subjects : [],
    levels: input.kind === "tutor" ? input.levels : [],
    schoolYears: input.kind === "tutor" ? input.schoolYears : [],
    tasks: input.kind === "housekeeper" ? input.tasks : [],
    services: input.kind === "senior_caregiver" ? input.services : [],
  };
  const before = await findOwnProfileRow({ db, tenantId, userId });
  const [saved] = await db
    .insert(providerProfiles)
    .values({ tenantId, userId, ...values })
    .onConflictDoUpdate({ target: [providerProfiles.tenantId, providerProfiles.userId], set: { ...values, updatedAt: new Date() } })
    .returning({ id: providerProfiles.id });
  const changed = before
    ? Object.keys(values).filter((k) => JSON.stringify(before[k as keyof typeof before]) !== JSON.stringify(values[k as keyof typeof values]))
    : Object.keys(values);
  await recordAudit({
    db,
    actor,
    tenantId,
    action: before ? "profile.update" : "profile.create",
    entityType: "provider_profile",
    entityId: saved!.id,
    changes: { fields: changed },
  });
  const row = await findOwnProfileRow({ db, tenantId, userId });
  return toProfileOutput(row!, storage, { exact: true });
}

export type GetProfileOptions = { db: Transaction; tenantId: string; id: string; viewer: { userId: string; role: TenantRole }; storage: MediaStorage };

/**
 * One profile by id. Members see published profiles of the tenant's current providers; an unpublished
 * one only its provider and the tenant's owners and admins. The profile of someone removed from the
 * tenant, or no longer a provider in it, is seen by nobody but them. Anything else answers as not found.
 */
export async function getProfile({ db, tenantId, id, viewer, storage }: GetProfileOptions) {
  const [row] = await db
    .select({ ...profileColumns, isProvider: sql<boolean>`(${memberships.role} is not distinct from 'provider')` })
    .from(providerProfiles)
    .innerJoin(users, eq(users.id, providerProfiles.userId))
    .leftJoin(memberships, and(eq(memberships.tenantId, providerProfiles.tenantId), eq(memberships.userId, providerProfiles.userId)))
    .where(and(eq(providerProfiles.tenantId, tenantId), eq(providerProfiles.id, id)))
    .limit(1);
  const own = row?.userId === viewer.userId;
  const staff = viewer.role === "owner" || viewer.role === "admin";
  if (!row || (!own && (!row.isProvider || (!row.published && !staff)))) throw new AppError("NOT_FOUND", "No such profile in this tenant.");
  return toProfileOutput(row, storage, { exact: own });
}
