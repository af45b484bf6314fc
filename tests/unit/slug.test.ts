import { describe, expect, it } from "vitest";
import { parsesAsTenantId, slugCandidates, slugify } from "../../server/tenants/slug";

const ID = "0190a3a4-1111-7222-8333-444455556666";

describe("no slug reads as a tenant id", () => {
  it("parsesAsTenantId: 32 hex digits once hyphens are dropped, in any case and any grouping", () => {
    for (const s of [ID, ID.toUpperCase(), ID.replaceAll("-", ""), "0190-a3a4-1111-7222-8333-4444-5555-6666", `-${ID}-`]) expect(parsesAsTenantId(s), s).toBe(true);
    for (const s of ["cafe", "deadbeef-cafe", ID.slice(0, -1), `${ID}0`, `t-${ID}`, "g190a3a4-1111-7222-8333-444455556666"]) expect(parsesAsTenantId(s), s).toBe(false);
  });

  it("slugify gives a name that reads as an id the prefix t-, and leaves other names alone", () => {
    expect(slugify(ID)).toBe(`t-${ID}`);
    expect(slugify(ID.toUpperCase())).toBe(`t-${ID}`);
    expect(slugify(` {${ID}} `)).toBe(`t-${ID}`);
    expect(slugify(ID.replaceAll("-", ""))).toBe(`t-${ID.replaceAll("-", "")}`);
    expect(slugify(`Agency ${ID}`)).toBe(`agency-${ID}`);
    expect(slugify("Cura & Casa")).toBe("cura-casa");
  });

  it("no candidate, suffixed ones included, reads as an id; a typed slug is kept as typed", () => {
    // 27 hex digits: a 5-character suffix of hex-like base32 would make 32.
    const name = "abcdef0123456789abcdef01234";
    for (let i = 0; i < 200; i++) for (const c of slugCandidates({ name })) expect(parsesAsTenantId(c), c).toBe(false);
    expect(slugCandidates({ name: "x", slug: "chosen" })).toEqual(["chosen"]);
  });
});
