import { createHash } from "node:crypto";
import { and, eq } from "drizzle-orm";
import type { LimitFunction } from "p-limit";
import type { Transaction } from "../../db/client";
import { providerProfiles, type PhotoSet } from "../../db/schema";
import { recordAudit, type AuditActor } from "../audit/service";
import { AppError } from "../errors";
import type { Logger } from "../logger";
import { renderProfilePhoto, sniffImageType } from "../media/images";
import type { MediaStorage } from "../media/storage";

export const MEDIA_KEY_PATTERN = /^tenants\/[0-9a-f-]{36}\/users\/[0-9a-f-]{36}\/avatar\/[0-9a-f]{32}-(thumb|square|standard)\.webp$/;

function photoKeys(tenantId: string, userId: string, hash: string): PhotoSet["keys"] {
  const key = (size: string) => `tenants/${tenantId}/users/${userId}/avatar/${hash}-${size}.webp`;
  return { thumb: key("thumb"), square: key("square"), standard: key("standard") };
}

export type UploadProfilePhotoOptions = {
  form: FormData;
  tenantId: string;
  userId: string;
  /**
   * Short transactions bound to the tenant (tenantMemberProcedure's `ctx.inTenant`), in place of `db`:
   * decoding and storing the picture take long, and must not hold a pooled connection.
   */
  inTenant: <T>(fn: (tx: Transaction) => Promise<T>) => Promise<T>;
  storage: MediaStorage;
  decodeSlots: LimitFunction;
  limits: { maxBytes: number; maxPixels: number };
  actor: AuditActor;
  log: Logger;
};

/**
 * The upload pipeline. Nothing is stored unless every step succeeds:
 *   checks (field, size, profile, real type) -> decode under the pixel limit (a few at a time)
 *   -> put the renditions -> point the profile at them in one transaction with its audit row
 *   -> after the commit, delete the previous set. A failure after the put deletes what was put.
 */
export async function uploadProfilePhoto({ form, tenantId, userId, inTenant, storage, decodeSlots, limits, actor, log }: UploadProfilePhotoOptions): Promise<{ photo: { thumb: string; square: string; standard: string } }> {
  const file = form.get("file");
  if (!(file instanceof Blob)) {
    throw new AppError("BAD_REQUEST", "Send the picture as multipart form data in the field file.", { issues: [{ path: "file", message: "is required" }] });
  }
  if (file.size > limits.maxBytes) {
    throw new AppError("PAYLOAD_TOO_LARGE", `The picture is ${file.size} bytes; the limit is ${limits.maxBytes}.`, { issues: [{ path: "file", message: "is too large" }] });
  }
  const exists = await inTenant((tx) =>
    tx.select({ id: providerProfiles.id }).from(providerProfiles).where(and(eq(providerProfiles.tenantId, tenantId), eq(providerProfiles.userId, userId))),
  );
  if (exists.length === 0) throw new AppError("NOT_FOUND", "Create your profile first (profiles.upsertMine), then add its picture.");

  const bytes = Buffer.from(await file.arrayBuffer());
  if (!sniffImageType(bytes)) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "The picture must be a JPEG, PNG or WebP image (checked from its content, not its name).", {
      issues: [{ path: "file", message: "must be a JPEG, PNG or WebP image" }],
    });
  }
  const renditions = await decodeSlots(() => renderProfilePhoto({ bytes, maxPixels: limits.maxPixels }));
  const hash = createHash("sha256").update(bytes).digest("hex").slice(0, 32);
  const keys = photoKeys(tenantId, userId, hash);
  const newKeys = Object.values(keys);

  const discard = (keysToDelete: string[]) =>
    storage.delete(keysToDelete).catch((err: unknown) => log.error({ err, keys: keysToDelete }, "could not delete picture objects"));

  try {
    await Promise.all(renditions.map((r) => storage.put(keys[r.name], r.data, "image/webp")));
  } catch (err) {
    await discard(newKeys);
    throw err;
  }

  let previous: PhotoSet | null;
  try {
    previous = await inTenant(async (tx) => {
      const [row] = await tx
        .select({ id: providerProfiles.id, photo: providerProfiles.photo })
        .from(providerProfiles)
        .where(and(eq(providerProfiles.tenantId, tenantId), eq(providerProfiles.userId, userId)))
        .for("update");
      if (!row) throw new AppError("NOT_FOUND", "The profile was removed during the upload.");
      await tx.update(providerProfiles).set({ photo: { hash, keys }, updatedAt: new Date() }).where(eq(providerProfiles.id, row.id));
      await recordAudit({
        db: tx,
        actor,
        tenantId,
        action: "profile.photo",
        entityType: "provider_profile",
        entityId: row.id,
        changes: { photo: { from: row.photo?.hash ?? null, to: hash }, sizes: Object.fromEntries(renditions.map((r) => [r.name, `${r.width}x${r.height}`])) },
      });
      return row.photo;
    });
  } catch (err) {
    // The same picture uploaded again shares its keys with the live set: those must stay.
    const live = await inTenant((tx) =>
      tx.select({ photo: providerProfiles.photo }).from(providerProfiles).where(and(eq(providerProfiles.tenantId, tenantId), eq(providerProfiles.userId, userId))),
    ).catch(() => []);
    if (live[0]?.photo?.hash !== hash) await discard(newKeys);
    throw err;
  }
  if (previous && previous.hash !== hash) await discard(Object.values(previous.keys));
  return { photo: { thumb: storage.urlFor(keys.thumb), square: storage.urlFor(keys.square), standard: storage.urlFor(keys.standard) } };
}
