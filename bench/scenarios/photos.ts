import sharp from "sharp";
import { api, signUp } from "../lib/api";
import { pixelBombPng } from "../../tests/helpers/images";
import { rssMb } from "../../tests/helpers/spawn-server";
import { percentile, round } from "../lib/stats";

export type PhotoOptions = { baseUrl: string; pid: number; sequential: number; concurrent: number };

/** A 12-megapixel camera-like JPEG (noise compresses like a real photo does, about 6-7 MB). */
async function twelveMegapixelJpeg(seed: number): Promise<Buffer> {
  return sharp({ create: { width: 4000, height: 3000, channels: 3, background: "#000", noise: { type: "gaussian", mean: 100 + seed * 10, sigma: 30 } } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

export async function runPhotos(opts: PhotoOptions) {
  const owner = await signUp(opts.baseUrl, "photo-owner");
  const asOwner = api(opts.baseUrl, { authorization: `Bearer ${owner.token}` });
  const tenant = await asOwner.mutate<{ slug: string }>("tenants.create", { name: `Bench photos ${Date.now()}` });
  const providers = await Promise.all(Array.from({ length: opts.concurrent }, () => signUp(opts.baseUrl, "photo-provider")));
  for (const p of providers) {
    const invitation = await asOwner.mutate<{ id: string }>("tenants.members.invite", { email: p.user.email, role: "provider" }, { "x-tenant-id": tenant.slug });
    await api(opts.baseUrl, { authorization: `Bearer ${p.token}` }).mutate("tenants.invitations.accept", { id: invitation.id });
    await api(opts.baseUrl, { authorization: `Bearer ${p.token}`, "x-tenant-id": tenant.slug }).mutate("profiles.upsertMine", {
      kind: "tutor", headline: "Bench tutor profile", hourlyRateCents: 2000, city: "Milan", lat: 45.46, lng: 9.19, serviceRadiusKm: 10, subjects: ["maths"], levels: ["middle"],
    });
  }
  const images = await Promise.all([0, 1, 2, 3].map(twelveMegapixelJpeg));

  const upload = async (token: string, bytes: Buffer) => {
    const form = new FormData();
    form.set("file", new Blob([bytes], { type: "image/jpeg" }), "camera.jpg");
    const res = await fetch(`${opts.baseUrl}/trpc/profiles.uploadPhoto`, { method: "POST", headers: { authorization: `Bearer ${token}`, "x-tenant-id": tenant.slug }, body: form });
    if (!res.ok) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
  };

  const sequentialMs: number[] = [];
  for (let i = 0; i < opts.sequential; i++) {
    const t0 = performance.now();
    await upload(providers[0]!.token, images[i % images.length]!);
    sequentialMs.push(performance.now() - t0);
  }

  const baselineRssMb = rssMb(opts.pid);
  let peakRssMb = baselineRssMb;
  const sampler = setInterval(() => {
    peakRssMb = Math.max(peakRssMb, rssMb(opts.pid));
  }, 10);
  const t0 = performance.now();
  await Promise.all(providers.map((p, i) => upload(p.token, images[i % images.length]!)));
  const concurrentSeconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);

  // A pixel bomb (a 20000×20000 PNG of half a megabyte) is refused from its header: the server's memory
  // should not move (decoding it would take 400 MB). tests/integration/photos.test.ts proves the refusal.
  const bomb = await pixelBombPng();
  const bombBaselineRssMb = rssMb(opts.pid);
  let bombPeakRssMb = bombBaselineRssMb;
  const bombSampler = setInterval(() => {
    bombPeakRssMb = Math.max(bombPeakRssMb, rssMb(opts.pid));
  }, 10);
  const form = new FormData();
  form.set("file", new Blob([bomb], { type: "image/png" }), "bomb.png");
  const refused = await fetch(`${opts.baseUrl}/trpc/profiles.uploadPhoto`, { method: "POST", headers: { authorization: `Bearer ${providers[0]!.token}`, "x-tenant-id": tenant.slug }, body: form });
  await refused.text();
  clearInterval(bombSampler);
  bombPeakRssMb = Math.max(bombPeakRssMb, rssMb(opts.pid));
  if (refused.status !== 400) throw new Error(`the pixel bomb answered ${refused.status}, not 400`);

  return {
    msPerImage: round(percentile(sequentialMs, 50), 1),
    p95MsPerImage: round(percentile(sequentialMs, 95), 1),
    imageBytes: images[0]!.length,
    megapixels: 12,
    concurrentUploads: opts.concurrent,
    concurrentSeconds: round(concurrentSeconds, 2),
    baselineRssMb: round(baselineRssMb, 1),
    peakRssMb: round(peakRssMb, 1),
    pixelBombRssGrowthMb: round(bombPeakRssMb - bombBaselineRssMb, 1),
  };
}
