import { MigrationRefused } from "../db/migrator";
import { createApp } from "./app";
import { ConfigError, loadConfig, loadDotEnv, type Config } from "./config";
import { openConfiguredDatabase } from "./database";
import { createLogger, type Logger } from "./logger";
import { openMediaStorage } from "./media/storage";
import { connectRedis, RedisUnavailableError, type RedisHandle } from "./redis";
import { explainListenFailure, StartupError } from "./startup-errors";

/** A failure a person can fix: one line, no stack, exit 1. Anything else is a bug and is printed whole. */
function exitOnStartupFailure(err: unknown, log?: Logger): never {
  if (err instanceof ConfigError || err instanceof StartupError || err instanceof RedisUnavailableError || err instanceof MigrationRefused) {
    console.error(err.message);
  } else if (log) {
    log.fatal({ err }, "start-up failed");
  } else {
    console.error(err);
  }
  process.exit(1);
}

async function main() {
  let config: Config;
  try {
    loadDotEnv();
    config = loadConfig();
  } catch (err) {
    exitOnStartupFailure(err);
  }
  const log = createLogger(config.logLevel, config.logFormat);
  // An exception that escapes every boundary is a bug: log it with its cause, then exit for the
  // supervisor (compose's restart policy, systemd, Kubernetes) to start a clean process, rather than
  // serving on in an unknown state.
  const crash = (kind: string) => (err: unknown) => {
    log.fatal({ err }, `${kind}: exiting for the supervisor to restart the process`);
    process.exit(1);
  };
  process.on("uncaughtException", crash("uncaught exception"));
  process.on("unhandledRejection", crash("unhandled rejection"));

  let redis: RedisHandle | undefined;
  let app: ReturnType<typeof createApp>;
  let port: number;
  try {
    redis = await connectRedis({ ...config.redis, dataDir: config.dataDir, log });
    const database = await openConfiguredDatabase(config);
    const storage = await openMediaStorage(config);
    app = createApp({ config, log, database, redis, storage });
    try {
      ({ port } = await app.listen());
    } catch (err) {
      throw explainListenFailure(err, config.port, config.host) ?? err;
    }
  } catch (err) {
    await redis?.close().catch(() => {});
    exitOnStartupFailure(err, log);
  }
  const base = `http://localhost:${port}`;
  const where = [config.demoPage ? `demo page ${base}/demo` : null, `metrics ${base}/metrics`, `readiness ${base}/readyz`].filter(Boolean).join(", ");
  log.info({ port, database: config.database.kind, redis: redis.url, roles: config.roles }, `Aiutami listening on ${base} (${where})`);

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
