import { encodeBase32LowerCaseNoPadding } from "@oslojs/encoding";

/**
 * True for text PostgreSQL could read as a uuid: 32 hex digits once its hyphens are dropped. No slug may
 * be one, typed or derived, so a tenant reference is an id or a slug and never both. The database holds
 * the same rule as the CHECK `tenants_slug_not_an_id` (migration 0013), so no other path can write one.
 */
export function parsesAsTenantId(text: string): boolean {
  return /^[0-9a-f]{32}$/i.test(text.replaceAll("-", ""));
}

/** What a derived slug that would read as an id starts with instead: never a hex digit. */
const ID_LIKE_PREFIX = "t-";

/** "Cura & Casa Milano" -> "cura-casa-milano"; a name that reads as a tenant id gets the prefix "t-". */
export function slugify(name: string): string {
  const slug = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 48)
    .replace(/-+$/g, "");
  return notAnId(slug.length >= 2 ? slug : "tenant");
}

/** The slugs to try for a tenant, in order: the one asked for, or the derived one and four with a random suffix. */
export function slugCandidates(input: { name: string; slug?: string | undefined }): string[] {
  if (input.slug) return [input.slug];
  const base = slugify(input.name);
  return [base, ...Array.from({ length: 4 }, () => notAnId(`${base}-${encodeBase32LowerCaseNoPadding(crypto.getRandomValues(new Uint8Array(3)))}`))];
}

function notAnId(slug: string): string {
  return parsesAsTenantId(slug) ? `${ID_LIKE_PREFIX}${slug}` : slug;
}
