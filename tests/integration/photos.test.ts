import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, createTenant, type TestTenant, type TestUser } from "../helpers/factories";
import { HTML, phoneJpeg, pixelBombPng, plainImage, SVG } from "../helpers/images";
import { createProvider, profileInput } from "../helpers/profiles";
import { callerAs, createTestEnv, startHttpServer, type TestEnv } from "../helpers/test-app";

let env: TestEnv;
let server: Awaited<ReturnType<typeof startHttpServer>>;
let tenant: TestTenant;

beforeAll(async () => {
  env = await createTestEnv();
  server = await startHttpServer(env);
  tenant = await createTenant(env);
});
afterAll(async () => {
  await server.stop();
  await env.close();
});

type UploadAnswer = { status: number; body: { result?: { data: { photo: Record<"thumb" | "square" | "standard", string> } }; error?: { message: string; data: { code: string; issues?: { path: string }[] } } } };

async function upload(user: TestUser, bytes: Buffer | null, filename = "photo.jpg", type = "image/jpeg"): Promise<UploadAnswer> {
  const form = new FormData();
  if (bytes) form.set("file", new Blob([bytes], { type }), filename);
  const res = await fetch(`${server.baseUrl}/trpc/profiles.uploadPhoto`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.token}`, "x-tenant-id": tenant.slug },
    body: form,
  });
  return { status: res.status, body: (await res.json()) as UploadAnswer["body"] };
}

/** Fetches a returned URL from this test's server (the configured public URL has port 0 here). */
async function fetchMedia(url: string) {
  return fetch(`${server.baseUrl}${new URL(url).pathname}`);
}

const keyOf = (url: string) => decodeURIComponent(new URL(url).pathname.replace(/^\/media\//, ""));
const userPrefix = (user: TestUser) => `tenants/${tenant.id}/users/${user.id}/`;

describe("profiles.uploadPhoto", () => {
  it("stores three WebP renditions with no metadata, rotated, under server-chosen keys", async () => {
    const { user } = await createProvider(env, tenant, profileInput("senior_caregiver", "milan"));
    const answer = await upload(user, await phoneJpeg(1600, 1200), "../../etc/passwd.jpg");
    expect(answer.status).toBe(200);
    const photo = answer.body.result!.data.photo;
    const expected = { thumb: [96, 96], square: [400, 400], standard: [900, 1200] } as const;
    for (const [name, [w, h]] of Object.entries(expected)) {
      const url = photo[name as keyof typeof photo];
      expect(keyOf(url)).toMatch(new RegExp(`^tenants/${tenant.id}/users/${user.id}/avatar/[0-9a-f]{32}-${name}\\.webp$`));
      const stored = await env.deps.storage.head(keyOf(url));
      expect(stored).toMatchObject({ contentType: "image/webp", cacheControl: "public, max-age=31536000, immutable" });
      const res = await fetchMedia(url);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("image/webp");
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      expect({ name, format: meta.format, width: meta.width, height: meta.height }).toEqual({ name, format: "webp", width: w, height: h });
      // No EXIF (GPS included), no XMP, no orientation flag left.
      expect(meta.exif).toBeUndefined();
      expect(meta.xmp).toBeUndefined();
      expect(meta.orientation).toBeUndefined();
      // HEAD: the same headers, no body.
      const head = await fetch(`${server.baseUrl}${new URL(url).pathname}`, { method: "HEAD" });
      expect([head.status, head.headers.get("content-type"), head.headers.get("content-length")]).toEqual([200, "image/webp", res.headers.get("content-length")]);
      expect((await head.arrayBuffer()).byteLength).toBe(0);
    }
    const profile = await callerAs(env, user.auth, { tenant: tenant.slug }).profiles.mine();
    expect(profile?.photo).toEqual(photo);
  });

  it("a new picture replaces the old set, whose objects are deleted after the commit", async () => {
    const { user } = await createProvider(env, tenant, profileInput("tutor", "milan"));
    const first = (await upload(user, await plainImage("png"), "a.png", "image/png")).body.result!.data.photo;
    const second = (await upload(user, await plainImage("webp", 500, 500), "b.webp", "image/webp")).body.result!.data.photo;
    expect(second.thumb).not.toBe(first.thumb);
    for (const url of Object.values(first)) expect(await env.deps.storage.head(keyOf(url))).toBeNull();
    expect((await env.deps.storage.list(userPrefix(user))).sort()).toEqual(Object.values(second).map(keyOf).sort());
    const { items } = await callerAs(env, tenant.owner.auth, { tenant: tenant.slug }).audit.list({ action: "profile.photo", limit: 100 });
    expect(items.filter((i) => i.actorUserId === user.id)).toHaveLength(2);
  });

  it("uploading the same picture twice keeps its objects", async () => {
    const { user } = await createProvider(env, tenant, profileInput("tutor", "milan"));
    const bytes = await plainImage("png");
    const a = (await upload(user, bytes, "a.png")).body.result!.data.photo;
    const b = (await upload(user, bytes, "a.png")).body.result!.data.photo;
    expect(b).toEqual(a);
    for (const url of Object.values(b)) expect((await fetchMedia(url)).status).toBe(200);
  });

  it("refuses a strip with a side over 16,383 px from its header, under the pixel limit (it held a decode slot for half a minute)", async () => {
    const { user } = await createProvider(env, tenant, profileInput("tutor", "milan"));
    const strip = await sharp({ create: { width: 1, height: 100_000, channels: 3, background: { r: 128, g: 128, b: 128 } }, limitInputPixels: false }).png().toBuffer();
    const answer = await upload(user, strip, "strip.png", "image/png");
    expect(answer.status).toBe(400);
    expect(answer.body.error?.message).toMatch(/1×100000; no side may be over 16383 px/);
    expect(await env.deps.storage.list(userPrefix(user))).toEqual([]);
  });

  it("refuses a pixel bomb before decoding, from its header", async () => {
    const { user } = await createProvider(env, tenant, profileInput("tutor", "milan"));
    const bomb = await pixelBombPng();
    expect(bomb.length).toBeLessThan(600_000);
    const answer = await upload(user, bomb, "bomb.png", "image/png");
    expect(answer.status).toBe(400);
    // The header check's answer (sharp's own pixel limit would answer otherwise, after starting to
    // decode). The server's memory meanwhile is a figure of the benchmark's `photos` scenario.
    expect(answer.body.error?.message).toMatch(/20000×20000 \(400 MP\); the limit is 40 MP/);
    expect(await env.deps.storage.list(userPrefix(user))).toEqual([]);
  });

  it("refuses SVG, GIF, TIFF and HTML sent as .jpg, from their content", async () => {
    const { user } = await createProvider(env, tenant, profileInput("tutor", "milan"));
    for (const bytes of [SVG, HTML, await plainImage("gif"), await plainImage("tiff")]) {
      const answer = await upload(user, bytes, "innocent.jpg", "image/jpeg");
      expect(answer.status).toBe(415);
      expect(answer.body.error?.data.issues).toEqual([{ path: "file", message: "must be a JPEG, PNG or WebP image" }]);
    }
    expect(await env.deps.storage.list(userPrefix(user))).toEqual([]);
  });

  it("refuses a truncated JPEG, leaving no object and no change", async () => {
    const { user } = await createProvider(env, tenant, profileInput("tutor", "milan"));
    const jpeg = await phoneJpeg();
    const answer = await upload(user, jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    expect(answer.status).toBe(400);
    expect(answer.body.error?.message).toMatch(/truncated or damaged/);
    expect(await env.deps.storage.list(userPrefix(user))).toEqual([]);
    expect((await callerAs(env, user.auth, { tenant: tenant.slug }).profiles.mine())?.photo).toBeNull();
  });

  it("refuses an oversized body while reading it (413), storing nothing", async () => {
    const { user } = await createProvider(env, tenant, profileInput("tutor", "milan"));
    const big = Buffer.alloc(9 * 1024 * 1024, 7);
    big.set([0xff, 0xd8, 0xff], 0);
    const declared = await upload(user, big);
    expect(declared.status).toBe(413);
    // Without a Content-Length (chunked), the count while reading stops it too.
    const form = new FormData();
    form.set("file", new Blob([big], { type: "image/jpeg" }), "big.jpg");
    const body = new Response(form);
    const stream = body.body!;
    const res = await fetch(`${server.baseUrl}/trpc/profiles.uploadPhoto`, {
      method: "POST",
      headers: { authorization: `Bearer ${user.token}`, "x-tenant-id": tenant.slug, "content-type": body.headers.get("content-type")! },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await env.deps.storage.list(userPrefix(user))).toEqual([]);
  });

  it("refuses a missing file, a provider without a profile, and clients", async () => {
    const { user } = await createProvider(env, tenant, profileInput("tutor", "milan"));
    const missing = await upload(user, null);
    expect(missing.status).toBe(400);
    expect(missing.body.error?.data.issues).toEqual([{ path: "file", message: "is required" }]);
    const noProfile = await addMember(env, tenant, "provider");
    const answer = await upload(noProfile, await plainImage("png"));
    expect(answer.status).toBe(404);
    expect(answer.body.error?.message).toMatch(/profiles\.upsertMine/);
    const client = await addMember(env, tenant, "client");
    expect((await upload(client, await plainImage("png"))).status).toBe(403);
  });
});
