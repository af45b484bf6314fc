import { TRPCError } from "@trpc/server";
import type { z } from "zod";
import { appRouter } from "../../server/router";
import { TEST_PASSWORD, unique, type TestTenant, type TestUser } from "./factories";

/**
 * A valid input for every procedure that takes one. A procedure added to the router without an
 * entry here fails the first test, so none escapes the bad-input checks.
 */
export type Fixture = { tenant: TestTenant; member: TestUser; provider: TestUser };
export const TUTOR_PROFILE = {
  kind: "tutor", headline: "Maths and physics tutor", about: "Ten years of teaching.", hourlyRateCents: 3000, currency: "EUR",
  availability: [{ day: "mon", start: "09:00", end: "12:00" }], city: "Milan", lat: 45.4642, lng: 9.19, serviceRadiusKm: 10,
  education: [{ institution: "Politecnico di Milano", title: "MSc Physics", from: "2010", to: "2012" }],
  experiences: [{ institution: "Liceo Volta", title: "Teacher", from: "2012-09", to: null }],
  published: true, subjects: ["maths", "physics"], levels: ["high_school"], schoolYears: [9, 10],
};
/** Procedures whose role is not the owner's: input is validated after the role check. */
export const CALL_AS: Record<string, keyof Pick<Fixture, "provider" | "member">> = {
  "profiles.upsertMine": "provider",
  "profiles.uploadPhoto": "provider",
  "hires.create": "member",
  "hires.cancel": "member",
  "hires.accept": "provider",
  "hires.decline": "provider",
};
export const SOME_ID = "0190a3a4-1111-7222-8333-444455556666";
/** An ISO instant `hours` from now (negative: ago). */
export const inHours = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();
/** Fields other fields depend on: removing one may be reported on its dependents (a clear, named error too). */
export const DEPENDENTS: Record<string, Record<string, string[]>> = {
  "profiles.search": { kind: ["subjects", "levels"], near: ["sort"] },
  "hires.create": { lat: ["lng"], lng: ["lat"], startsAt: ["endsAt"] },
};
/** Multipart procedures, checked separately below (their input is FormData, not fields). */
export const MULTIPART = new Set(["profiles.uploadPhoto"]);
export const VALID_INPUTS: Record<string, (f: Fixture) => Record<string, unknown>> = {
  "auth.signUp": () => ({ email: `${unique()}@example.test`, password: TEST_PASSWORD, firstName: "Ada", lastName: "Rossi", phone: "+39 06 555 0101" }),
  "auth.logIn": (f) => ({ email: f.member.email, password: TEST_PASSWORD }),
  "auth.sessions.revoke": () => ({ id: "a".repeat(26) }),
  "tenants.create": () => ({ name: "Valid Agency", slug: unique("slug") }),
  "tenants.members.invite": () => ({ email: `${unique()}@example.test`, role: "client" }),
  "tenants.members.revokeInvitation": () => ({ id: SOME_ID }),
  "tenants.invitations.accept": () => ({ id: SOME_ID }),
  "tenants.invitations.decline": () => ({ id: SOME_ID }),
  "tenants.members.remove": (f) => ({ userId: f.member.id }),
  "tenants.members.setRole": (f) => ({ userId: f.member.id, role: "provider" }),
  "profiles.upsertMine": () => TUTOR_PROFILE,
  "profiles.get": () => ({ id: "0190a3a4-1111-7222-8333-444455556666" }),
  "profiles.search": () => ({
    kind: "tutor", subjects: ["maths"], levels: ["high_school"], minRateCents: 1000, maxRateCents: 5000, text: "maths",
    near: { lat: 45.46, lng: 9.19, radiusKm: 10 }, sort: "distance", cursor: "opaque", limit: 10,
  }),
  "hires.create": (f) => ({
    providerId: f.provider.id, jobDescription: "Two hours of maths homework help", location: "Via Roma 1, Milan",
    lat: 45.46, lng: 9.19, startsAt: inHours(24), endsAt: inHours(26),
  }),
  "hires.accept": () => ({ id: SOME_ID }),
  "hires.decline": () => ({ id: SOME_ID }),
  "hires.cancel": () => ({ id: SOME_ID }),
  "hires.complete": () => ({ id: SOME_ID }),
  "hires.get": () => ({ id: SOME_ID }),
  "hires.list": () => ({ as: "client", status: "requested", cursor: SOME_ID, limit: 10 }),
  "notifications.markRead": () => ({ ids: [SOME_ID] }),
  // No cursor: only one the list handed out is valid (HOSTILE_INPUTS tries others).
  "audit.list": () => ({ actorId: "0190a3a4-1111-7222-8333-444455556666", entityType: "tenant", action: "tenant.create", limit: 10 }),
};

/** A cursor of the server's shape (payload.signature) that it never signed: what a forger can make. */
export const forgedCursor = (payload: Record<string, unknown>) => `${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${"A".repeat(43)}`;

/**
 * Hostile values that passed validation once and reached PostgreSQL (or could): each must be refused as
 * BAD_REQUEST naming `field`, before anything is written. `input` replaces fields of the valid sample.
 */
export const HOSTILE_INPUTS: Array<{ path: string; field: string; input: (f: Fixture) => Record<string, unknown>; what: string }> = [
  // Dates: storable, and a hire's within its window.
  { path: "hires.create", field: "startsAt", input: () => ({ startsAt: "9999-12-31T23:59:59-14:00", endsAt: undefined }), what: "year 10000 in UTC" },
  { path: "hires.create", field: "endsAt", input: () => ({ endsAt: "9999-12-31T23:59:59-14:00" }), what: "an end in year 10000" },
  { path: "hires.create", field: "startsAt", input: () => ({ startsAt: "0000-01-01T00:00:00Z", endsAt: undefined }), what: "year 0" },
  { path: "hires.create", field: "startsAt", input: () => ({ startsAt: inHours(-1), endsAt: inHours(1) }), what: "an hour ago" },
  { path: "hires.create", field: "startsAt", input: () => ({ startsAt: inHours(2.1 * 365 * 24), endsAt: undefined }), what: "more than two years ahead" },
  { path: "hires.create", field: "endsAt", input: () => ({ startsAt: inHours(24), endsAt: inHours(23) }), what: "an end before the start" },
  { path: "hires.create", field: "endsAt", input: () => ({ startsAt: inHours(24), endsAt: inHours(24 + 8 * 24) }), what: "more than a week long" },
  { path: "hires.create", field: "lat", input: () => ({ lat: 1e308 }), what: "a huge latitude" },
  { path: "hires.create", field: "lng", input: () => ({ lng: -180.0001 }), what: "a longitude past -180" },
  // Money: within int4, and sane.
  { path: "profiles.search", field: "minRateCents", input: () => ({ minRateCents: 2 ** 31 }), what: "above int4" },
  { path: "profiles.search", field: "maxRateCents", input: () => ({ maxRateCents: 2 ** 31 + 1 }), what: "above int4" },
  { path: "profiles.search", field: "maxRateCents", input: () => ({ maxRateCents: 1e308 }), what: "a huge number" },
  { path: "profiles.search", field: "minRateCents", input: () => ({ minRateCents: -1 }), what: "negative" },
  { path: "profiles.search", field: "minRateCents", input: () => ({ minRateCents: 10.5 }), what: "fractional cents" },
  { path: "profiles.upsertMine", field: "hourlyRateCents", input: () => ({ hourlyRateCents: 2 ** 31 }), what: "above int4" },
  { path: "profiles.upsertMine", field: "hourlyRateCents", input: () => ({ hourlyRateCents: 5e-324 }), what: "the smallest double" },
  // Radii and coordinates.
  { path: "profiles.search", field: "near.radiusKm", input: () => ({ near: { lat: 45.46, lng: 9.19, radiusKm: 1e-320 } }), what: "a denormal radius" },
  { path: "profiles.search", field: "near.radiusKm", input: () => ({ near: { lat: 45.46, lng: 9.19, radiusKm: 0.01 } }), what: "a radius under 100 m" },
  { path: "profiles.search", field: "near.radiusKm", input: () => ({ near: { lat: 45.46, lng: 9.19, radiusKm: 1e9 } }), what: "a radius larger than the earth" },
  { path: "profiles.search", field: "near.lat", input: () => ({ near: { lat: 90.000001, lng: 9.19, radiusKm: 10 } }), what: "a latitude past the pole" },
  { path: "profiles.search", field: "near.lng", input: () => ({ near: { lat: 45.46, lng: -1e308, radiusKm: 10 } }), what: "a huge longitude" },
  { path: "profiles.upsertMine", field: "serviceRadiusKm", input: () => ({ serviceRadiusKm: 1e-320 }), what: "a denormal radius" },
  { path: "profiles.upsertMine", field: "lat", input: () => ({ lat: -1e308 }), what: "a huge latitude" },
  { path: "profiles.upsertMine", field: "lat", input: () => ({ lat: 1e-320 }), what: "a denormal latitude (its geo arithmetic underflows)" },
  { path: "profiles.upsertMine", field: "lng", input: () => ({ lng: -5e-324 }), what: "the smallest negative longitude" },
  { path: "profiles.search", field: "near.lat", input: () => ({ near: { lat: 1e-320, lng: 9.19, radiusKm: 10 } }), what: "a denormal latitude" },
  { path: "profiles.upsertMine", field: "currency", input: () => ({ currency: "ZZZ" }), what: "a code shaped like a currency that is none" },
  { path: "profiles.upsertMine", field: "education.0.from", input: () => ({ education: [{ institution: "Liceo", title: "Diploma", from: "0000", to: null }] }), what: "year 0" },
  { path: "profiles.upsertMine", field: "availability", input: () => ({ availability: Array.from({ length: 29 }, () => ({ day: "mon", start: "09:00", end: "10:00" })) }), what: "29 slots" },
  { path: "profiles.upsertMine", field: "subjects", input: () => ({ subjects: Array.from({ length: 21 }, (_, i) => `subject${i}`) }), what: "21 subjects" },
  // Cursors: signed, so no forged key or id reaches SQL.
  { path: "profiles.search", field: "cursor", input: () => ({ cursor: forgedCursor({ k: 1e10, id: SOME_ID }) }), what: "a forged key of 1e10" },
  { path: "profiles.search", field: "cursor", input: () => ({ cursor: forgedCursor({ k: 1.5, id: SOME_ID }) }), what: "a forged key of 1.5" },
  { path: "profiles.search", field: "cursor", input: () => ({ cursor: forgedCursor({ k: 10, id: "-".repeat(36) }) }), what: "a forged id of 36 hyphens" },
  { path: "profiles.search", field: "cursor", input: () => ({ cursor: Buffer.from(JSON.stringify({ s: "distance", k: 1e10, id: SOME_ID })).toString("base64url") }), what: "an unsigned cursor of the old kind" },
  { path: "profiles.search", field: "cursor", input: () => ({ cursor: "x".repeat(513) }), what: "over 512 characters" },
  { path: "hires.list", field: "cursor", input: () => ({ cursor: SOME_ID }), what: "a bare id" },
  { path: "hires.list", field: "cursor", input: () => ({ cursor: forgedCursor({ id: "-".repeat(36) }) }), what: "a forged id of 36 hyphens" },
  { path: "audit.list", field: "cursor", input: () => ({ cursor: SOME_ID }), what: "a bare id" },
  { path: "audit.list", field: "cursor", input: () => ({ cursor: forgedCursor({ id: SOME_ID }) }), what: "a forged cursor" },
  { path: "audit.list", field: "cursor", input: () => ({ cursor: 42 }), what: "a number" },
  { path: "notifications.list", field: "cursor", input: () => ({ cursor: forgedCursor({ seq: 1e10 }) }), what: "a forged seq" },
  { path: "notifications.list", field: "cursor", input: () => ({ cursor: 2 }), what: "a bare seq" },
  // Sizes.
  { path: "notifications.list", field: "limit", input: () => ({ limit: 1e10 }), what: "a huge page" },
  { path: "audit.list", field: "limit", input: () => ({ limit: 101 }), what: "over 100 a page" },
  { path: "hires.list", field: "limit", input: () => ({ limit: 0 }), what: "an empty page" },
  { path: "notifications.markRead", field: "ids", input: () => ({ ids: Array.from({ length: 501 }, () => SOME_ID) }), what: "501 ids" },
];

type AnyProcedure = { _def: { type: "query" | "mutation" | "subscription"; inputs: z.ZodType[] } };
/** Every procedure of the router, by path: the tests that must cover all of them iterate this. */
export const procedures = Object.entries((appRouter._def as unknown as { procedures: Record<string, AnyProcedure> }).procedures);

/** Calls `path` on a caller; answers the TRPCError it threw, or null when it succeeded. */
export async function callProcedure(caller: object, path: string, input: unknown, onResult?: (output: unknown) => void): Promise<TRPCError | null> {
  const fn = path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as (i: unknown) => Promise<unknown>;
  try {
    // Not `onResult?.(await fn(input))`: optional chaining would skip the call itself when onResult is absent.
    const output = await fn(input);
    onResult?.(output);
    return null;
  } catch (err) {
    if (err instanceof TRPCError) return err;
    throw err;
  }
}

export type Role = "owner" | "admin" | "provider" | "client";
const ANY_ROLE: Role[] = ["owner", "admin", "provider", "client"];
/** Who may call each procedure. A procedure missing here fails the authorization matrix. */
export const ACCESS: Record<string, "public" | "user" | { tenant: Role[] }> = {
  "auth.signUp": "public",
  "auth.logIn": "public",
  "auth.logOut": "user",
  "auth.logOutEverywhere": "user",
  "auth.me": "user",
  "auth.sessions.list": "user",
  "auth.sessions.revoke": "user",
  "tenants.create": "user",
  "tenants.mine": "user",
  "tenants.members.list": { tenant: ["owner", "admin"] },
  "tenants.members.invite": { tenant: ["owner", "admin"] },
  "tenants.members.invitations": { tenant: ["owner", "admin"] },
  "tenants.members.revokeInvitation": { tenant: ["owner", "admin"] },
  "tenants.members.remove": { tenant: ["owner", "admin"] },
  "tenants.members.setRole": { tenant: ["owner", "admin"] },
  "tenants.invitations.list": "user",
  "tenants.invitations.accept": "user",
  "tenants.invitations.decline": "user",
  "audit.list": { tenant: ["owner", "admin"] },
  "profiles.upsertMine": { tenant: ["provider"] },
  "profiles.uploadPhoto": { tenant: ["provider"] },
  "profiles.mine": { tenant: ANY_ROLE },
  "profiles.get": { tenant: ANY_ROLE },
  "profiles.search": { tenant: ANY_ROLE },
  "hires.create": { tenant: ["client"] },
  "hires.accept": { tenant: ["provider"] },
  "hires.decline": { tenant: ["provider"] },
  "hires.cancel": { tenant: ["client"] },
  "hires.complete": { tenant: ANY_ROLE },
  "hires.list": { tenant: ANY_ROLE },
  "hires.get": { tenant: ANY_ROLE },
  "notifications.list": "user",
  "notifications.unreadCount": "user",
  "notifications.markRead": "user",
  "notifications.markAllRead": "user",
};

/** A valid input for any procedure (an empty one for those without input), for calls that test guards. */
export function sampleInput(path: string, fixture: Fixture): unknown {
  if (MULTIPART.has(path)) return new FormData();
  return VALID_INPUTS[path]?.(fixture) ?? undefined;
}
