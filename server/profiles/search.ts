import { and, arrayContains, arrayOverlaps, desc, eq, gte, lte, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../../db/client";
import { memberships, providerProfiles, users } from "../../db/schema";
import { openCursor, scopeDigest, sealCursor } from "../cursor";
import { takePage } from "../pagination";
import type { MediaStorage } from "../media/storage";
import { CELL_MARGIN_M, exactEarth, publicEarth, roundDistanceKm } from "./location";
import { MAX_RATE_CENTS, type SearchProfilesInput } from "./schemas";
import { profileColumns, toProfileOutput } from "./service";

type Sort = "distance" | "rate" | "newest";

/** What a cursor holds, per sort: the last item's sort key and the id that breaks ties. */
const POSITIONS = {
  // Metres from the search point to the public point: the distance the page itself showed, before rounding.
  distance: z.object({ k: z.number().min(0).max(2.1e7), id: z.uuid() }).strict(),
  rate: z.object({ k: z.number().int().min(0).max(MAX_RATE_CENTS), id: z.uuid() }).strict(),
  newest: z.object({ id: z.uuid() }).strict(),
} as const;

/** A cursor is valid only for the tenant, sort and filters that issued it. */
function cursorScope(tenantId: string, sort: Sort, input: SearchProfilesInput): string {
  const { cursor: _cursor, limit: _limit, ...filters } = input;
  return `profiles.search:${tenantId}:${sort}:${scopeDigest(filters)}`;
}

/** Only current providers of the tenant: removing a member, or changing their role, takes their profile out at once. */
const isProvider = sql`exists (select 1 from ${memberships} where ${memberships.tenantId} = ${providerProfiles.tenantId} and ${memberships.userId} = ${providerProfiles.userId} and ${memberships.role} = 'provider')`;

/**
 * Published profiles of current providers of the caller's tenant, filtered and paged with a signed
 * keyset cursor.
 *
 * Location: every radius test, order and distance uses the provider's public point (profiles/location.ts),
 * never the exact one, so nothing here locates a home better than the public views do. The GiST index
 * holds the exact point; it finds candidates within the radius plus half a cell's diagonal
 * (`earth_box`), and the public point then decides. For nearest first, a nearest-first (KNN) scan of the
 * exact points first takes one page's worth of candidates; the farthest public distance among them
 * bounds the page, so the page is then read from a small box and ordered by public distance and id.
 */
export async function searchProfiles(opts: { db: Database; tenantId: string; input: SearchProfilesInput; storage: MediaStorage; cursorSecret: string }) {
  const { input } = opts;
  const sort: Sort = input.sort ?? (input.near ? "distance" : "newest");
  const scope = cursorScope(opts.tenantId, sort, input);
  // Verified before any query sees it: a forged or altered cursor is refused here.
  const position: { k?: number; id: string } | null = input.cursor ? openCursor<{ k?: number; id: string }>(opts.cursorSecret, scope, input.cursor, POSITIONS[sort]) : null;

  const here = input.near ? sql`ll_to_earth(${input.near.lat}::float8, ${input.near.lng}::float8)` : null;
  const publicDistance = here ? sql<number>`earth_distance(${publicEarth}, ${here})` : null;

  const where: (SQL | undefined)[] = [
    eq(providerProfiles.tenantId, opts.tenantId),
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
  if (input.near && here && publicDistance) {
    const radiusM = input.near.radiusKm * 1000;
    where.push(sql`earth_box(${here}, ${radiusM + CELL_MARGIN_M}::float8) @> ${exactEarth}`, sql`${publicDistance} <= ${radiusM}::float8`);
  }
  if (position) {
    if (sort === "distance") where.push(sql`(${publicDistance}, ${providerProfiles.id}) > (${position.k}::float8, ${position.id}::uuid)`);
    else if (sort === "rate") where.push(sql`(${providerProfiles.hourlyRateCents}, ${providerProfiles.id}) > (${position.k}::int, ${position.id}::uuid)`);
    else where.push(sql`${providerProfiles.id} < ${position.id}::uuid`);
  }

  const fetchLimit = input.limit + 1;
  let order: SQL[];
  if (sort === "distance" && here && publicDistance) {
    // The farthest public distance among the first `fetchLimit` candidates by exact distance: any
    // `fetchLimit` matches bound the page, and these are the nearest. Every match of the page then lies
    // within that distance of its public point, so within it plus the margin of its exact point.
    const bound = sql`(select max(c.d) from (select ${publicDistance} as d from ${providerProfiles} where ${and(...where)} order by ${exactEarth} <-> ${here} limit ${fetchLimit}) c)`;
    where.push(sql`earth_box(${here}, ${bound} + ${CELL_MARGIN_M}::float8) @> ${exactEarth}`);
    order = [sql`${publicDistance} asc`, sql`${providerProfiles.id} asc`];
  } else if (sort === "rate") {
    order = [sql`${providerProfiles.hourlyRateCents} asc`, sql`${providerProfiles.id} asc`];
  } else {
    order = [desc(providerProfiles.id)];
  }

  const query = opts.db
    .select({ ...profileColumns, distanceM: publicDistance ?? sql<null>`null::float8` })
    .from(providerProfiles)
    .innerJoin(users, eq(users.id, providerProfiles.userId))
    .where(and(...where))
    .orderBy(...order)
    .limit(fetchLimit);
  // For distance: the planner guesses a fixed, small row count for cube's @> and may pick a bitmap scan
  // of the whole radius; a plain index scan of the small box reads only what is inside it. Both statements are sent
  // together (one round trip); SET LOCAL ends with the transaction.
  const [, rows] = await Promise.all([sort === "distance" ? opts.db.execute(sql`set local enable_bitmapscan = off`) : undefined, query]);

  const { page, nextCursor } = takePage(rows, input.limit, (last) =>
    sealCursor(
      opts.cursorSecret,
      scope,
      sort === "distance" ? { k: Number(last.distanceM), id: last.id } : sort === "rate" ? { k: last.hourlyRateCents, id: last.id } : { id: last.id },
    ),
  );
  return {
    items: page.map(({ distanceM, ...row }) => ({
      ...toProfileOutput(row, opts.storage, { exact: false }),
      distanceKm: distanceM === null ? null : roundDistanceKm(Number(distanceM)),
    })),
    nextCursor,
  };
}
