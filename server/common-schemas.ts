import { z } from "zod";

/** For procedures without input: accepts nothing, `null` or `{}`, as plain HTTP callers send all three. */
export const NoInput = z.object({}).strict().nullish();
