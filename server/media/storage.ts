import { mkdirSync } from "node:fs";
import type { Readable } from "node:stream";
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { Config } from "../config";

/** Object storage as the product uses it: put with headers, delete a set, read (for the /media route). */
export type MediaStorage = {
  bucket: string;
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  delete(keys: string[]): Promise<void>;
  get(key: string): Promise<{ body: Readable; contentType: string; cacheControl: string; contentLength?: number } | null>;
  head(key: string): Promise<{ contentType: string; cacheControl: string; contentLength: number } | null>;
  /** Keys under a prefix (at most 1000): for checks that nothing was left behind. */
  list(prefix: string): Promise<string[]>;
  /** The URL a browser loads the object from. */
  urlFor(key: string): string;
  close(): Promise<void>;
};

/** Renditions never change under a key (the key holds the content hash), so caches may keep them forever. */
export const IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable";

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata?.httpStatusCode === 404;
}

function s3Client(opts: { endpoint?: string; region: string; credentials?: { accessKeyId: string; secretAccessKey: string }; forcePathStyle: boolean }) {
  // The SDK warns on every start that its releases after January 2027 need Node 22. The lock file pins
  // a release that runs on Node 20 (STACK.md), so the warning says nothing an operator can act on.
  // eslint-disable-next-line no-restricted-properties -- sets the SDK's own switch; reads no configuration
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return new S3Client({
    endpoint: opts.endpoint,
    region: opts.region,
    credentials: opts.credentials,
    forcePathStyle: opts.forcePathStyle,
    // s3rver (and some MinIO set-ups) would store aws-chunked framing inside the object (STACK.md pitfall 1).
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/**
 * Opens the configured storage: an external S3 or MinIO, or the embedded s3rver listening on
 * loopback with its files under DATA_DIR/s3.
 */
export async function openMediaStorage(config: Config): Promise<MediaStorage> {
  const { s3 } = config.media;
  let client: S3Client;
  let stopEmbedded = async () => {};
  if (s3.kind === "embedded") {
    mkdirSync(s3.directory, { recursive: true });
    // Loaded only here: a process on a real S3 or MinIO does not carry the embedded server (about 27 MB).
    const { default: S3rver } = await import("s3rver");
    const server = new S3rver({
      address: "127.0.0.1",
      port: 0,
      directory: s3.directory,
      silent: true,
      configureBuckets: [{ name: s3.bucket, configs: [] }],
    });
    const { port } = await server.run();
    stopEmbedded = () => server.close();
    client = s3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: "us-east-1",
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      forcePathStyle: true,
    });
  } else {
    client = s3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: s3.accessKeyId && s3.secretAccessKey ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } : undefined,
      forcePathStyle: s3.forcePathStyle,
    });
  }
  const bucket = s3.bucket;
  const base = config.media.publicBaseUrl ?? `${config.publicUrl}/media`;

  return {
    bucket,
    put: async (key, body, contentType) => {
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType, CacheControl: IMMUTABLE_CACHE_CONTROL, ContentLength: body.length }),
      );
    },
    delete: async (keys) => {
      if (keys.length === 0) return;
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
    },
    get: async (key) => {
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return {
          body: res.Body as Readable,
          contentType: res.ContentType ?? "application/octet-stream",
          cacheControl: res.CacheControl ?? IMMUTABLE_CACHE_CONTROL,
          contentLength: res.ContentLength,
        };
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
    },
    head: async (key) => {
      try {
        const res = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return { contentType: res.ContentType ?? "", cacheControl: res.CacheControl ?? "", contentLength: res.ContentLength ?? 0 };
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
    },
    list: async (prefix) => {
      const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (res.Contents ?? []).map((o) => o.Key!).filter(Boolean);
    },
    urlFor: (key) => `${base}/${key}`,
    close: async () => {
      client.destroy();
      await stopEmbedded();
    },
  };
}
