import { z } from "zod";

/**
 * Plain-language messages for the generic cases, so every caller reads "firstName: is required"
 * rather than the parser's wording. Schema-specific messages still win.
 */
z.config({
  customError: (issue) => {
    if (issue.code === "invalid_type") {
      return issue.input === undefined ? "is required" : `must be ${issue.expected === "array" ? "an array" : `a ${issue.expected}`}`;
    }
    if (issue.code === "too_big" && issue.origin === "string") return `must be at most ${issue.maximum} characters`;
    if (issue.code === "too_small" && issue.origin === "string") return `must be at least ${issue.minimum} characters`;
    if (issue.code === "unrecognized_keys") return `has unknown field(s): ${issue.keys.join(", ")}`;
    return undefined;
  },
});
