import { and, arrayContains, arrayOverlaps, desc, eq, gte, lte, sql, type SQL } from "drizzle-orm";
import type { Database } from "../../db/client";
import { providerProfiles, users } from "../../db/schema";
import { AppError } from "../errors";
import { takePage } from "../pagination";
import type { MediaStorage } from "../media/storage";
import type { SearchProfilesInput } from "./schemas";
import { profileColumns, toProfileOutput } from "./service";

type Sort = "distance" | "rate" | "newest";
/** The position after the last item of a page: the sort key and the id that breaks ties. */
type CursorKey = { s: Sort; k: number | null; id: string };

function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

function decodeCursor(cursor: string, sort: Sort): CursorKey {
  try {
    const key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as CursorKey;
    const validId = typeof key.id === "string" && /^[0-9a-f-]{36}$/.test(key.id);
    const validKey = sort === "newest" ? key.k === null : typeof key.k === "number" && Number.isFinite(key.k);
    if (key.s === sort && validId && validKey) return key;
  } catch {
    // fall through
  }
  throw new AppError("BAD_REQUEST", "The cursor does not belong to this search: start again without it.", {
    issues: [{ path: "cursor", message: "does not match this search" }],
  });
}

/**
 * Published providers of the caller's tenant, filtered and paged with a keyset cursor.
 *
 * Distance: the radius is an `earth_box` test (GiST) refined by the exact great-circle distance,
 * and nearest-first ordering is the cube `<->` distance, which the same GiST index serves as a
 * KNN scan. `<->` is the straight-line (chord) distance, which orders points exactly as the
 * great-circle distance does, so it is also the cursor's key.
 */
export async function searchProfiles(opts: { db: Database; tenantId: string; input: SearchProfilesInput; storage: MediaStorage }) {
  const { input } = opts;
  const sort: Sort = input.sort ?? (input.near ? "distance" : "newest");
  const earth = sql`ll_to_earth(${providerProfiles.lat}, ${providerProfiles.lng})`;
  const here = input.near ? sql`ll_to_earth(${input.near.lat}, ${input.near.lng})` : null;
  const chord = here ? sql<number>`(${earth} <-> ${here})` : null;
  const distanceKm = here ? sql<number>`(earth_distance(${earth}, ${here}) / 1000.0)` : sql<null>`null::float8`;

  const where: (SQL | undefined)[] = [
    eq(providerProfiles.tenantId, opts.tenantId),
    eq(providerProfiles.published, true),
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
    where.push(sql`earth_box(${here}, ${radiusM}) @> ${earth}`, sql`earth_distance(${earth}, ${here}) <= ${radiusM}`);
  }

  let order: SQL[];
  if (sort === "distance") {
    // Distance alone, so the GiST index serves it as a nearest-first (KNN) scan that stops after
    // one page; an `id` tie-breaker here would force reading and sorting the whole radius.
    // Exact ties are ordered by id below, in code.
    order = [sql`${chord} asc`];
  } else if (sort === "rate") {
    order = [sql`${providerProfiles.hourlyRateCents} asc`, sql`${providerProfiles.id} asc`];
  } else {
    order = [desc(providerProfiles.id)];
  }
  if (input.cursor) {
    const key = decodeCursor(input.cursor, sort);
    if (sort === "distance") where.push(sql`(${chord} > ${key.k}::float8 or (${chord} = ${key.k}::float8 and ${providerProfiles.id} > ${key.id}::uuid))`);
    else if (sort === "rate") where.push(sql`(${providerProfiles.hourlyRateCents}, ${providerProfiles.id}) > (${key.k}::int, ${key.id}::uuid)`);
    else where.push(sql`${providerProfiles.id} < ${key.id}::uuid`);
  }

  const fetch = (extra: SQL | undefined, limit: number | undefined) => {
    const query = opts.db
      .select({ ...profileColumns, distanceKm, sortKey: chord ?? sql<null>`null::float8` })
      .from(providerProfiles)
      .innerJoin(users, eq(users.id, providerProfiles.userId))
      .where(and(...where, extra))
      .orderBy(...order);
    return limit === undefined ? query : query.limit(limit);
  };

  // For distance: the planner guesses a fixed, small row count for cube's @> and would pick a bitmap
  // scan plus a sort of every provider in the radius; the KNN scan reads only what one page needs.
  // Both statements are sent together (one round trip); SET LOCAL ends with the transaction.
  const [, first] = await Promise.all([
    sort === "distance" ? opts.db.execute(sql`set local enable_bitmapscan = off`) : undefined,
    fetch(undefined, input.limit + 1),
  ]);
  let rows = first;
  if (sort === "distance") {
    const boundary = rows[input.limit]?.sortKey;
    if (boundary != null && rows[input.limit - 1]?.sortKey === boundary) {
      // A group of equally distant providers straddles the page's end: take the whole group so
      // ordering it by id decides who is on this page and who is on the next.
      const group = await fetch(sql`${chord} = ${boundary}::float8`, undefined);
      rows = [...rows.filter((r) => Number(r.sortKey) < Number(boundary)), ...group];
    }
    rows.sort((a, b) => Number(a.sortKey) - Number(b.sortKey) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  const { page, nextCursor } = takePage(rows, input.limit, (last) =>
    encodeCursor({ s: sort, k: sort === "distance" ? Number(last.sortKey) : sort === "rate" ? last.hourlyRateCents : null, id: last.id }),
  );
  return {
    items: page.map(({ distanceKm: km, sortKey: _sortKey, ...row }) => ({
      ...toProfileOutput(row, opts.storage, { exact: false }),
      distanceKm: km === null ? null : Math.round(Number(km) * 100) / 100,
    })),
    nextCursor,
  };
}
