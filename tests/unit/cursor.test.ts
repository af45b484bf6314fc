import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { loadConfig } from "../../server/config";
import { openCursor, scopeDigest, sealCursor } from "../../server/cursor";
import { AppError } from "../../server/errors";

const SECRET = "a-secret-of-at-least-thirty-two-characters";
const Position = z.object({ k: z.number().int().min(0).max(100_000), id: z.uuid() }).strict();
const ID = "0190a3a4-1111-7222-8333-444455556666";

function refusal(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    return err as AppError;
  }
  throw new Error("was not refused");
}

describe("signed cursors", () => {
  it("opens what it sealed, in the same scope", () => {
    const cursor = sealCursor(SECRET, "list:a", { k: 1200, id: ID });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(openCursor(SECRET, "list:a", cursor, Position)).toEqual({ k: 1200, id: ID });
  });

  it("refuses another scope, another secret, an edited payload or signature, as BAD_REQUEST naming cursor", () => {
    const cursor = sealCursor(SECRET, "list:a", { k: 1200, id: ID });
    const [body, signature] = cursor.split(".") as [string, string];
    const edited = `${Buffer.from(JSON.stringify({ k: 1201, id: ID })).toString("base64url")}.${signature}`;
    const flipped = `${body}.${signature.slice(0, -1)}${signature.endsWith("A") ? "B" : "A"}`;
    for (const attempt of [
      () => openCursor(SECRET, "list:b", cursor, Position),
      () => openCursor(`${SECRET}!`, "list:a", cursor, Position),
      () => openCursor(SECRET, "list:a", edited, Position),
      () => openCursor(SECRET, "list:a", flipped, Position),
      () => openCursor(SECRET, "list:a", body, Position),
      () => openCursor(SECRET, "list:a", `${cursor}.x`, Position),
      () => openCursor(SECRET, "list:a", "", Position),
    ]) {
      const err = refusal(attempt);
      expect(err).toBeInstanceOf(AppError);
      expect(err.code).toBe("BAD_REQUEST");
      expect(err.details.issues?.map((i) => i.path)).toEqual(["cursor"]);
    }
  });

  it("still checks the shape of a payload it signed", () => {
    for (const payload of [{ k: 1e10, id: ID }, { k: 1.5, id: ID }, { k: 1, id: "-".repeat(36) }, { k: 1, id: ID, extra: true }, {}]) {
      expect(refusal(() => openCursor(SECRET, "s", sealCursor(SECRET, "s", payload), Position)).code).toBe("BAD_REQUEST");
    }
  });

  it("digests filters the same whatever their key order", () => {
    expect(scopeDigest({ a: 1, b: [2, 3], c: { d: 1, e: null } })).toBe(scopeDigest({ c: { e: null, d: 1 }, b: [2, 3], a: 1 }));
    expect(scopeDigest({ a: 1 })).not.toBe(scopeDigest({ a: 2 }));
  });
});

describe("APP_SECRET", () => {
  it("comes from the environment, at least 32 characters", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "aiutami-secret-"));
    expect(loadConfig({ DATA_DIR: dataDir, APP_SECRET: SECRET }).appSecret).toEqual({ value: SECRET, source: "env" });
    expect(() => loadConfig({ DATA_DIR: dataDir, APP_SECRET: "short" })).toThrow(/APP_SECRET: must be at least 32 characters/);
  });

  it("unset, is generated once under DATA_DIR and kept across restarts", () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), "aiutami-secret-")), "data");
    const first = loadConfig({ DATA_DIR: dataDir }).appSecret;
    expect(first.source).toBe("file");
    expect(first.value.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({ DATA_DIR: dataDir }).appSecret).toEqual(first);
    expect(readFileSync(join(dataDir, "secret"), "utf8").trim()).toBe(first.value);
    expect(statSync(join(dataDir, "secret")).mode & 0o077).toBe(0);
  });
});
