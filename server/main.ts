import { createApp } from "./app";
import { ConfigError, loadConfig, type Config } from "./config";
import { openConfiguredDatabase } from "./database";
import { createLogger } from "./logger";
import { openMediaStorage } from "./media/storage";
import { connectRedis, RedisUnavailableError } from "./redis";

async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);

  let redis;
  try {
    redis = await connectRedis({ ...config.redis, dataDir: config.dataDir, log });
  } catch (err) {
    if (err instanceof RedisUnavailableError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const database = await openConfiguredDatabase(config);
  const storage = await openMediaStorage(config);
  const app = createApp({ config, log, database, redis, storage });
  const { port } = await app.listen();
  log.info({ port, database: database.kind, redis: redis.url }, `Aiutami listening on http://localhost:${port}`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    setTimeout(() => {
      log.error("shutdown took too long; exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    app.close().then(
      () => {
        log.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, "error while shutting down");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

await main();
