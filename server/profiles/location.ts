import { sql } from "drizzle-orm";
import { providerProfiles } from "../../db/schema";

/**
 * A provider's public location is their coordinates snapped to a fixed grid of 0.01°, about 1.1 km north
 * to south and 0.8 km east to west in Italy: the centre of the cell their home is in. PostgreSQL keeps it
 * beside the exact one (`public_lat`, `public_lng`, generated from `lat` and `lng` by the one rule in
 * db/schema/profiles.ts), public views show it, and it is the only location search uses for its radius,
 * its order, its distances and its cursors. So no answer, and no sequence of searches, says more about a
 * home than this point does. A fixed cell, not a random offset: a jitter drawn anew would average out
 * over repeated searches.
 */
export const publicEarth = sql`ll_to_earth(${providerProfiles.publicLat}, ${providerProfiles.publicLng})`;

/** Distances in answers: from the public point, to 0.1 km. */
export const roundDistanceKm = (metres: number) => Math.round(metres / 100) / 10;
