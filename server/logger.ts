import { createRequire } from "node:module";
import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

export type LogFormat = "json" | "pretty";

/**
 * pino-pretty, when it is installed (a dev dependency: production images log JSON). Loaded in-process
 * and synchronous, so a line is on the terminal before the process exits.
 */
function prettyStream(): DestinationStream | null {
  try {
    const pretty = createRequire(import.meta.url)("pino-pretty") as (opts: object) => DestinationStream;
    return pretty({ sync: true, colorize: true, translateTime: "HH:MM:ss.l", ignore: "pid,hostname,service" });
  } catch {
    return null;
  }
}

/** Logs on stdout: JSON, or human-readable for a terminal. Secrets that could reach a line are redacted by path. */
export function createLogger(level: string, format: LogFormat = "json"): Logger {
  const options = {
    level,
    base: { service: "aiutami" },
    redact: {
      paths: ["req.headers.authorization", "req.headers.cookie", "*.password", "*.token", "input.password"],
      censor: "[redacted]",
    },
  };
  const stream = format === "pretty" ? prettyStream() : null;
  return stream ? pino(options, stream) : pino(options);
}
