import { z } from "zod";

/** For procedures without input: accepts nothing, `null` or `{}`, as plain HTTP callers send all three. */
export const NoInput = z.object({}).strict().nullish();

/**
 * A paging cursor as an input field: an opaque string the list handed out, bounded here; the list
 * verifies its signature (server/cursor.ts) before any query uses it.
 */
export const Cursor = z.string().max(512, "must be at most 512 characters");

/** The instants every date input must fall within: storable and printable by PostgreSQL and JavaScript alike. */
const EARLIEST = Date.parse("1970-01-01T00:00:00Z");
const LATEST = Date.parse("9999-01-01T00:00:00Z");

/**
 * An ISO 8601 date-time with an offset, whose instant is a real, storable one: `9999-12-31T23:59:59-14:00`
 * (year 10000 in UTC) is refused here, not by PostgreSQL. Each use adds its own, tighter range.
 */
export const Instant = z
  .iso.datetime({ offset: true, message: "must be an ISO 8601 date-time, e.g. 2026-12-01T09:00:00Z" })
  .refine((v) => {
    const t = Date.parse(v);
    return Number.isFinite(t) && t >= EARLIEST && t < LATEST;
  }, "must be a date-time from 1970 to 9998");

/**
 * Closer to 0 than this (a tenth of a millimetre on the ground) a coordinate means nothing, and PostgreSQL's
 * geo arithmetic on it underflows (a 22003 the caller could not place): 0, or at least this far from it.
 */
const TINIEST_DEGREES = 1e-9;
const notTiny = (v: number) => v === 0 || Math.abs(v) >= TINIEST_DEGREES;
const NOT_TINY = `must be 0 or at least ${TINIEST_DEGREES} away from it`;

/** A latitude in degrees: finite (JSON carries no Infinity or NaN), within -90..90. */
export const Latitude = z.number().min(-90, "must be between -90 and 90").max(90, "must be between -90 and 90").refine(notTiny, NOT_TINY);
/** A longitude in degrees, within -180..180. */
export const Longitude = z.number().min(-180, "must be between -180 and 180").max(180, "must be between -180 and 180").refine(notTiny, NOT_TINY);
