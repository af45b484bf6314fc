import { sql, type SQLWrapper } from "drizzle-orm";
import { providerProfiles } from "../../db/schema";

/**
 * A provider's public location: their coordinates snapped to a fixed grid of 0.01° (about 1.1 km north
 * to south, 0.8 km east to west in Italy), the centre of the cell their home is in. It is what public
 * views show, and the only location search uses for its radius, its order and its distances, so no answer
 * and no sequence of searches says more about the home than this point does. A fixed cell, not a random
 * offset: a jitter drawn anew would average out over repeated searches.
 *
 * The rule exists twice, in TypeScript for views and in SQL for search, written as the same IEEE-754
 * double operations (multiply, add, floor, divide), so both give the very same number for every input;
 * tests/integration/location-privacy.test.ts checks that on awkward values (ties at .xx5 among them).
 */
export function publicCoordinate(degrees: number): number {
  return Math.floor(degrees * 100 + 0.5) / 100;
}

const publicCoordinateSql = (column: SQLWrapper) => sql`(floor(${column} * 100 + 0.5) / 100)`;

/** The public point of each profile, as an earth point (cube), for search. Not indexed: see `CELL_MARGIN_M`. */
export const publicEarth = sql`ll_to_earth(${publicCoordinateSql(providerProfiles.lat)}, ${publicCoordinateSql(providerProfiles.lng)})`;

/** The exact point, which the GiST index `provider_profiles_tenant_earth_idx` holds. */
export const exactEarth = sql`ll_to_earth(${providerProfiles.lat}, ${providerProfiles.lng})`;

/**
 * How far the exact point can be from the public one: half a cell's diagonal, 0.005° × √2 of a great
 * circle (787 m on `earth()`'s 6,378,168 m radius, at the equator; less elsewhere), rounded up.
 * Search uses the exact index for candidates within the radius plus this margin, then keeps and orders
 * them by the public point only, so the answer is the same wherever in its cell the home is.
 */
export const CELL_MARGIN_M = 800;

/** Distances in answers: from the public point, to 0.1 km. */
export const roundDistanceKm = (metres: number) => Math.round(metres / 100) / 10;
