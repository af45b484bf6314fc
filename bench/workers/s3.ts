/**
 * An S3-protocol server (s3rver) in its own process, as MinIO or S3 would be in production: the
 * benchmark's server reaches it over loopback instead of carrying the embedded one.
 */
import S3rver from "s3rver";

let server: S3rver | undefined;
process.on("message", (msg: { type: string; directory?: string; bucket?: string }) => {
  if (msg.type === "close") void (server?.close() ?? Promise.resolve()).finally(() => process.exit(0));
  if (msg.type !== "start") return;
  server = new S3rver({ address: "127.0.0.1", port: 0, directory: msg.directory!, silent: true, configureBuckets: [{ name: msg.bucket!, configs: [] }] });
  server.run().then(
    ({ port }) => process.send!({ type: "ready", port }),
    (err: Error) => process.send!({ type: "error", error: err.message }),
  );
});
