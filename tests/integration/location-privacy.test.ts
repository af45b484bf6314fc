import type { TRPCError } from "@trpc/server";
import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant, addMember, type TestTenant } from "../helpers/factories";
import { createProvider, profileInput } from "../helpers/profiles";
import { callerAs, createTestEnv, openOwnerSql, type TestEnv } from "../helpers/test-app";

/**
 * The three attacks of issue 14 that located a provider's home to a few metres, run against the API as
 * a member of the tenant would. Each must recover no more than the public point the profile already
 * shows: its error from the home at least the public point's own, less the rounding of what it read.
 */

type Point = { lat: number; lng: number };
/** `earth()` of the earthdistance extension: the radius search and its distances use. */
const EARTH_M = 6_378_168;
const rad = (d: number) => (d * Math.PI) / 180;
function metres(a: Point, b: Point): number {
  const h = Math.sin(rad(b.lat - a.lat) / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(rad(b.lng - a.lng) / 2) ** 2;
  return 2 * EARTH_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The point whose distances to `probes` best fit `distancesM` (least squares), by a grid search that zooms in. */
function trilaterate(probes: Point[], distancesM: number[]): Point {
  const misfit = (p: Point) => probes.reduce((sum, q, i) => sum + (metres(p, q) - distancesM[i]!) ** 2, 0);
  let best: Point = { lat: probes.reduce((s, p) => s + p.lat, 0) / probes.length, lng: probes.reduce((s, p) => s + p.lng, 0) / probes.length };
  for (let span = 0.3; span > 1e-7; span /= 4) {
    let bestMisfit = misfit(best);
    const centre = best;
    for (let i = -10; i <= 10; i++) {
      for (let j = -10; j <= 10; j++) {
        const p = { lat: centre.lat + (span * i) / 10, lng: centre.lng + (span * j) / 10 };
        const m = misfit(p);
        if (m < bestMisfit) [best, bestMisfit] = [p, m];
      }
    }
  }
  return best;
}

// A home 611 m from its public point (45.47, 9.19), and a second provider at the far side of the same cell.
const HOME: Point = { lat: 45.4652, lng: 9.1862 };
const TWIN: Point = { lat: 45.4748, lng: 9.1938 };
const PUBLIC: Point = { lat: 45.47, lng: 9.19 };
const PROBES: Point[] = [
  { lat: 45.5, lng: 9.15 },
  { lat: 45.44, lng: 9.25 },
  { lat: 45.42, lng: 9.12 },
  { lat: 45.52, lng: 9.24 },
];
/** The attacks read distances to 0.1 km (attack 1) or to about a metre (2 and 3). */
const DISTANCE_ROUNDING_M = 50;

let env: TestEnv;
let owner: postgres.Sql;
let tenant: TestTenant;
let search: (input: Parameters<ReturnType<typeof callerAs>["profiles"]["search"]>[0]) => ReturnType<ReturnType<typeof callerAs>["profiles"]["search"]>;
let home: { id: string };
let twin: { id: string };
const publicError = metres(HOME, PUBLIC);

beforeAll(async () => {
  env = await createTestEnv();
  owner = openOwnerSql();
  tenant = await createTenant(env);
  const client = await addMember(env, tenant, "client");
  home = (await createProvider(env, tenant, profileInput("tutor", "milan", { ...HOME, subjects: ["astronomy"] }))).profile;
  twin = (await createProvider(env, tenant, profileInput("tutor", "milan", { ...TWIN, subjects: ["astronomy"] }))).profile;
  const caller = callerAs(env, client.auth, { tenant: tenant.slug });
  search = (input) => caller.profiles.search(input);
});
afterAll(async () => {
  await owner.end();
  await env.close();
});

const QUERY = { kind: "tutor" as const, subjects: ["astronomy"] };

describe("a provider's home stays as coarse as the public point", () => {
  it("the public view shows the grid cell's centre, the same for every home in the cell, as search stores it", async () => {
    const seen = await search({ ...QUERY, sort: "newest" });
    for (const id of [home.id, twin.id]) {
      const view = seen.items.find((i) => i.id === id)!;
      expect({ lat: view.lat, lng: view.lng }).toEqual(PUBLIC);
    }
    expect(publicError).toBeGreaterThan(600);
    const stored = await owner<{ lat: number; lng: number }[]>`select public_lat as lat, public_lng as lng from provider_profiles where id = ${home.id}`;
    expect(stored).toEqual([PUBLIC]);
  });

  it("attack 1, trilateration from distanceKm, lands on the public point, not nearer the home", async () => {
    const distances: number[] = [];
    for (const probe of PROBES) {
      const { items } = await search({ ...QUERY, near: { ...probe, radiusKm: 50 } });
      const item = items.find((i) => i.id === home.id)!;
      // Distances are from the public point, to 0.1 km: the twin elsewhere in the cell reads the same.
      expect(item.distanceKm! * 1000).toBeCloseTo(metres(probe, PUBLIC), -2);
      expect(items.find((i) => i.id === twin.id)!.distanceKm).toBe(item.distanceKm);
      distances.push(item.distanceKm! * 1000);
    }
    const estimate = trilaterate(PROBES, distances);
    expect(metres(estimate, PUBLIC)).toBeLessThan(2 * DISTANCE_ROUNDING_M);
    expect(metres(estimate, HOME)).toBeGreaterThanOrEqual(publicError - 2 * DISTANCE_ROUNDING_M);
  });

  it("attack 2, halving radiusKm from three points, finds the public point's distances, not the home's", async () => {
    const found: number[] = [];
    let searches = 0;
    for (const probe of PROBES.slice(0, 3)) {
      // The smallest radius that still returns the provider, to a metre.
      let [low, high] = [0.1, 50];
      while (high - low > 0.001) {
        const mid = (low + high) / 2;
        const { items } = await search({ ...QUERY, near: { ...probe, radiusKm: mid } });
        searches++;
        const ids = items.map((i) => i.id);
        // The twin, elsewhere in the cell, is in or out at exactly the same radius.
        expect(ids.includes(twin.id)).toBe(ids.includes(home.id));
        if (ids.includes(home.id)) high = mid;
        else low = mid;
      }
      expect(Math.abs(high * 1000 - metres(probe, PUBLIC))).toBeLessThan(2);
      found.push(high * 1000);
    }
    expect(searches).toBeGreaterThan(40);
    const estimate = trilaterate(PROBES.slice(0, 3), found);
    expect(metres(estimate, PUBLIC)).toBeLessThan(5);
    expect(metres(estimate, HOME)).toBeGreaterThanOrEqual(publicError - 5);
  });

  it("attack 3, decoding distance-sorted cursors, reads the public point's distances at most", async () => {
    const distances: number[] = [];
    for (const probe of PROBES) {
      const first = await search({ ...QUERY, near: { ...probe, radiusKm: 50 }, sort: "distance", limit: 1 });
      expect(first.nextCursor).toEqual(expect.any(String));
      const [body] = first.nextCursor!.split(".");
      const payload = JSON.parse(Buffer.from(body!, "base64url").toString("utf8")) as Record<string, unknown>;
      // Whatever number it carries is a distance to the public point, never to the home.
      const numbers = Object.values(payload).filter((v): v is number => typeof v === "number");
      expect(numbers).toHaveLength(1);
      expect(Math.abs(numbers[0]! - metres(probe, PUBLIC))).toBeLessThan(2);
      distances.push(numbers[0]!);
      // And it pages on: the other provider of the cell comes next, nobody twice.
      const second = await search({ ...QUERY, near: { ...probe, radiusKm: 50 }, sort: "distance", limit: 1, cursor: first.nextCursor! });
      expect(new Set([...first.items, ...second.items].map((i) => i.id))).toEqual(new Set([home.id, twin.id]));
    }
    const estimate = trilaterate(PROBES, distances);
    expect(metres(estimate, PUBLIC)).toBeLessThan(5);
    expect(metres(estimate, HOME)).toBeGreaterThanOrEqual(publicError - 5);
  });

  it("an altered cursor, re-encoded with the exact distance or any other key, is refused naming cursor", async () => {
    const first = await search({ ...QUERY, near: { ...PROBES[0]!, radiusKm: 50 }, sort: "distance", limit: 1 });
    const [body, signature] = first.nextCursor!.split(".") as [string, string];
    const payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as { k: number; id: string };
    for (const forged of [{ ...payload, k: metres(PROBES[0]!, HOME) }, { ...payload, k: 1e10 }, { ...payload, k: 1.5 }, { ...payload, id: "-".repeat(36) }]) {
      const cursor = `${Buffer.from(JSON.stringify(forged)).toString("base64url")}.${signature}`;
      const err = (await search({ ...QUERY, near: { ...PROBES[0]!, radiusKm: 50 }, sort: "distance", limit: 1, cursor }).catch((e: unknown) => e)) as TRPCError;
      expect(err.code).toBe("BAD_REQUEST");
      expect(err.message).toMatch(/cursor/);
    }
  });
});
