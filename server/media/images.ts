import type sharpModule from "sharp";
import type { Metadata } from "sharp";
import { AppError } from "../errors";

type Sharp = typeof sharpModule;
let loading: Promise<Sharp> | undefined;

/**
 * sharp (libvips, about 18 MB) loads with the first picture, so a process that never decodes one,
 * such as a hub, does not carry it.
 */
function loadSharp(): Promise<Sharp> {
  loading ??= import("sharp").then(({ default: sharp }): Sharp => {
    // Only the three loaders the product accepts may run, whatever the bytes claim to be: SVG, TIFF,
    // GIF, PDF, HEIF and the rest are blocked in libvips itself.
    sharp.block({ operation: ["VipsForeignLoad"] });
    sharp.unblock({ operation: ["VipsForeignLoadJpegBuffer", "VipsForeignLoadPngBuffer", "VipsForeignLoadWebpBuffer"] });
    // No operation cache: uploads are one-off, and the cache would only hold memory.
    sharp.cache(false);
    return sharp;
  });
  return loading;
}

export type ImageType = "jpeg" | "png" | "webp";

/** The real type from the magic bytes; the file name and the declared type are ignored. */
export function sniffImageType(bytes: Uint8Array): ImageType | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return "png";
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "webp";
  return null;
}

export type Rendition = { name: "thumb" | "square" | "standard"; width: number; height: number; data: Buffer };

/** Like the original system's three sizes: a small square, a larger square, a wide standard one. */
export const RENDITIONS = [
  { name: "thumb", width: 96, height: 96, fit: "cover" },
  { name: "square", width: 400, height: 400, fit: "cover" },
  { name: "standard", width: 1200, height: 1200, fit: "inside" },
] as const;

/** The longest side a picture may have (WebP cannot store more than 16,383). */
export const MAX_SIDE = 16_383;

export type RenderProfilePhotoOptions = { bytes: Buffer; maxPixels: number };

/**
 * Checks the size from the header (no decoding) against the pixel limit, then decodes once,
 * auto-rotated and shrunk on load, and writes every rendition as WebP with no metadata at all.
 */
export async function renderProfilePhoto({ bytes, maxPixels }: RenderProfilePhotoOptions): Promise<Rendition[]> {
  const sharp = await loadSharp();
  let header: Metadata;
  try {
    // Reads the header only (nothing is decoded), so the size is known before any pixel is.
    header = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new AppError("BAD_REQUEST", "The image could not be read: it is damaged or not a JPEG, PNG or WebP.", { issues: [{ path: "file", message: "cannot be read as an image" }] });
  }
  const pixels = (header.width ?? 0) * (header.height ?? 0);
  if (!header.width || !header.height || pixels > maxPixels) {
    throw new AppError(
      "BAD_REQUEST",
      `The image is ${header.width}×${header.height} (${Math.round(pixels / 1e6)} MP); the limit is ${Math.round(maxPixels / 1e6)} MP.`,
      { issues: [{ path: "file", message: "has too many pixels" }] },
    );
  }
  // A side past WebP's own limit (16,383 px) is no photo: a 1 × 39,000,000 strip under the pixel limit
  // held a decode slot for half a minute.
  if (header.width && header.height && Math.max(header.width, header.height) > MAX_SIDE) {
    throw new AppError("BAD_REQUEST", `The image is ${header.width}×${header.height}; no side may be over ${MAX_SIDE} px.`, { issues: [{ path: "file", message: `has a side over ${MAX_SIDE} px` }] });
  }
  try {
    // One decode: auto-orient from EXIF, shrink to the largest rendition, keep it raw in memory.
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: "truncated", sequentialRead: true })
      .rotate()
      .resize({ width: 1200, height: 1200, fit: "inside", withoutEnlargement: true })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const raw = { width: info.width, height: info.height, channels: info.channels };
    return await Promise.all(
      RENDITIONS.map(async (r) => {
        const out = await sharp(data, { raw })
          .resize({ width: r.width, height: r.height, fit: r.fit, withoutEnlargement: r.fit === "inside" })
          .webp({ quality: 80 })
          .toBuffer({ resolveWithObject: true });
        return { name: r.name, width: out.info.width, height: out.info.height, data: out.data };
      }),
    );
  } catch (err) {
    throw new AppError("BAD_REQUEST", "The image could not be decoded: it is truncated or damaged.", { issues: [{ path: "file", message: "cannot be decoded" }] }, { cause: err });
  }
}
