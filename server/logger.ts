import { pino, type Logger } from "pino";

export type { Logger };

/** JSON logs on stdout. Secrets that could reach a log line are redacted by path. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "aiutami" },
    redact: {
      paths: ["req.headers.authorization", "req.headers.cookie", "*.password", "*.token", "input.password"],
      censor: "[redacted]",
    },
  });
}
