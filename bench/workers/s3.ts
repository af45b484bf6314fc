/**
 * An S3-protocol server (s3rver) in its own process, as MinIO or S3 would be in production: the
 * benchmark's server reaches it over loopback instead of carrying the embedded one.
 */
import S3rver from "s3rver";

const [directory, bucket] = process.argv.slice(2) as [string, string];
const server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: true, configureBuckets: [{ name: bucket, configs: [] }] });
const { port } = await server.run();
process.send!({ type: "ready", port });
process.on("message", (msg: { type: string }) => {
  if (msg.type === "close") void server.close().finally(() => process.exit(0));
});
