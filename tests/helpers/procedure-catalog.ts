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
    lat: 45.46, lng: 9.19, startsAt: "2030-01-01T09:00:00Z", endsAt: "2030-01-01T11:00:00Z",
  }),
  "hires.accept": () => ({ id: SOME_ID }),
  "hires.decline": () => ({ id: SOME_ID }),
  "hires.cancel": () => ({ id: SOME_ID }),
  "hires.complete": () => ({ id: SOME_ID }),
  "hires.get": () => ({ id: SOME_ID }),
  "hires.list": () => ({ as: "client", status: "requested", cursor: SOME_ID, limit: 10 }),
  "notifications.markRead": () => ({ ids: [SOME_ID] }),
  "audit.list": () => ({ cursor: "0190a3a4-1111-7222-8333-444455556666", actorId: "0190a3a4-1111-7222-8333-444455556666", entityType: "tenant", action: "tenant.create", limit: 10 }),
};

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
