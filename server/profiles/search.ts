import { and, arrayContains, arrayOverlaps, desc, eq, gte, lte, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import type { Transaction } from "../../db/client";
import { memberships, providerProfiles, users } from "../../db/schema";
import { openCursor, scopeDigest, sealCursor } from "../cursor";
import { takePage } from "../pagination";
import type { MediaStorage } from "../media/storage";
import { publicEarth, roundDistanceKm } from "./location";
import { MAX_RATE_CENTS, type SearchProfilesInput } from "./schemas";
import { profileColumns, toProfileOutput } from "./service";

type Sort = "distance" | "rate" | "newest";
type Position = { k?: number; id: string };

/** What a cursor holds, per sort: the last item's sort key and the id that breaks ties. */
const POSITIONS: Record<Sort, z.ZodType<Position>> = {
  // The straight-line distance in metres from the search point to the last item's public point.
  distance: z.object({ k: z.number().min(0).max(1.3e7), id: z.uuid() }).strict(),
  rate: z.object({ k: z.number().int().min(0).max(MAX_RATE_CENTS), id: z.uuid() }).strict(),
  newest: z.object({ id: z.uuid() }).strict(),
};

/** Rows read past a distance-sorted page, so that a grid cell's providers straddling its end rarely need a second query. */
const TIE_ROOM = 8;

/** A cursor is valid only for the tenant, sort and filters that issued it. */
function cursorScope(tenantId: string, sort: Sort, input: SearchProfilesInput): string {
  const { cursor: _cursor, limit: _limit, ...filters } = input;
  return `profiles.search:${tenantId}:${sort}:${scopeDigest(filters)}`;
}

/** Only current providers of the tenant: removing a member, or changing their role, takes their profile out at once. */
const isProvider = sql`exists (select 1 from ${memberships} where ${memberships.tenantId} = ${providerProfiles.tenantId} and ${memberships.userId} = ${providerProfiles.userId} and ${memberships.role} = 'provider')`;

export type SearchProfilesOptions = { db: Transaction; tenantId: string; input: SearchProfilesInput; storage: MediaStorage; cursorSecret: string };

/**
 * Published profiles of current providers of the caller's tenant, filtered and paged with a signed
 * keyset cursor.
 *
 * Location: the radius, the order, the distances and the cursor use the provider's public point
 * (profiles/location.ts), never the exact one, so nothing here locates a home better than the public
 * views do. The radius is an `earth_box` test (GiST) refined by the great-circle distance, and
 * nearest-first ordering is the cube `<->` distance, which the same GiST index serves as a KNN scan.
 * `<->` is the straight-line (chord) distance, which orders points exactly as the great-circle distance
 * does, so it is also the cursor's key.
 */
export async function searchProfiles({ db, tenantId, input, storage, cursorSecret }: SearchProfilesOptions) {
  const sort: Sort = input.sort ?? (input.near ? "distance" : "newest");
  const scope = cursorScope(tenantId, sort, input);
  // Verified before any query sees it: a forged or altered cursor is refused here.
  const position = input.cursor ? openCursor(cursorSecret, scope, input.cursor, POSITIONS[sort]) : null;

  const here = input.near ? sql`ll_to_earth(${input.near.lat}::float8, ${input.near.lng}::float8)` : null;
  const chord = here ? sql<number>`(${publicEarth} <-> ${here})` : null;
  const distanceM = here ? sql<number>`earth_distance(${publicEarth}, ${here})` : sql<null>`null::float8`;

  const where: (SQL | undefined)[] = [
    eq(providerProfiles.tenantId, tenantId),
    eq(providerProfiles.published, true),
    isProvider,
    input.kind ? eq(providerProfiles.kind, input.kind) : undefined,
    // A caregiver who offers more than asked still matches; so does a housekeeper.
    input.services?.length ? arrayContains(providerProfiles.services, input.services) : undefined,
    input.tasks?.length ? arrayContains(providerProfiles.tasks, input.tasks) : undefined,
    // A tutor matches any asked subject, at every asked level.
    input.subjects?.length ? arrayOverlaps(providerProfiles.subjects, input.subjects) : undefined,
    input.levels?.length ? arrayContains(providerProfiles.levels, input.levels) : undefined,
    input.minRateCents !== undefined ? gte(providerProfiles.hourlyRateCents, input.minRateCents) : undefined,
    input.maxRateCents !== undefined ? lte(providerProfiles.hourlyRateCents, input.maxRateCents) : undefined,
    input.text ? sql`${providerProfiles.searchText} @@ websearch_to_tsquery('simple', ${input.text})` : undefined,
  ];
  if (input.near && here) {
    const radiusM = input.near.radiusKm * 1000;
    where.push(sql`earth_box(${here}, ${radiusM}::float8) @> ${publicEarth}`, sql`${distanceM} <= ${radiusM}::float8`);
  }
  if (position) {
    if (sort === "distance") where.push(sql`(${chord} > ${position.k}::float8 or (${chord} = ${position.k}::float8 and ${providerProfiles.id} > ${position.id}::uuid))`);
    else if (sort === "rate") where.push(sql`(${providerProfiles.hourlyRateCents}, ${providerProfiles.id}) > (${position.k}::int, ${position.id}::uuid)`);
    else where.push(sql`${providerProfiles.id} < ${position.id}::uuid`);
  }

  let order: SQL[];
  if (sort === "distance") {
    // Distance alone, so the GiST index serves it as a nearest-first (KNN) scan that stops after
    // one page; an `id` tie-breaker here would force reading and sorting the whole radius.
    // Ties (every provider of one grid cell is at the same distance) are ordered by id below, in code.
    order = [sql`${chord} asc`];
  } else if (sort === "rate") {
    order = [sql`${providerProfiles.hourlyRateCents} asc`, sql`${providerProfiles.id} asc`];
  } else {
    order = [desc(providerProfiles.id)];
  }

  const fetch = (extra: SQL | undefined, limit: number | undefined) => {
    const query = db
      .select({ ...profileColumns, distanceM, sortKey: chord ?? sql<null>`null::float8` })
      .from(providerProfiles)
      .innerJoin(users, eq(users.id, providerProfiles.userId))
      .where(and(...where, extra))
      .orderBy(...order);
    return limit === undefined ? query : query.limit(limit);
  };

  // For distance, a few rows past the page: equally distant providers (every one of a grid cell) are
  // ordered by id in code, and the rows after the page's last tell whether its whole group was read.
  const fetchLimit = input.limit + 1 + (sort === "distance" ? TIE_ROOM : 0);
  // For distance: the planner guesses a fixed, small row count for cube's @> and would pick a bitmap
  // scan plus a sort of every provider in the radius; the KNN scan reads only what one page needs.
  // Both statements are sent together (one round trip); SET LOCAL ends with the transaction.
  const [, first] = await Promise.all([
    sort === "distance" ? db.execute(sql`set local enable_bitmapscan = off`) : undefined,
    fetch(undefined, fetchLimit),
  ]);
  let rows = first;
  if (sort === "distance") {
    const byKeyThenId = (a: (typeof rows)[number], b: (typeof rows)[number]) => Number(a.sortKey) - Number(b.sortKey) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    rows.sort(byKeyThenId);
    const boundary = rows[input.limit]?.sortKey;
    if (boundary != null && rows.length === fetchLimit && rows.at(-1)!.sortKey === boundary) {
      // The group at the page's end may go on past what was read: read the whole group. The box of
      // that distance lets the index read only what is no farther, rather than the whole radius.
      const group = await fetch(sql`earth_box(${here}, sec_to_gc(${boundary}::float8 + 1)) @> ${publicEarth} and ${chord} = ${boundary}::float8`, undefined);
      rows = [...rows.filter((r) => Number(r.sortKey) < Number(boundary)), ...group].sort(byKeyThenId);
    }
  }

  const { page, nextCursor } = takePage(rows, input.limit, (last) =>
    sealCursor(
      cursorSecret,
      scope,
      sort === "distance" ? { k: Number(last.sortKey), id: last.id } : sort === "rate" ? { k: last.hourlyRateCents, id: last.id } : { id: last.id },
    ),
  );
  return {
    items: page.map(({ distanceM: metres, sortKey: _sortKey, ...row }) => ({
      ...toProfileOutput(row, storage, { exact: false }),
      distanceKm: metres === null ? null : roundDistanceKm(Number(metres)),
    })),
    nextCursor,
  };
}
