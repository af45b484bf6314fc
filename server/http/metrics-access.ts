import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Config } from "../config";
import { bearerTokenOf } from "./request-meta";

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

export type MetricsAccess = { ok: true } | { ok: false; status: 401 | 403; message: string };

const digest = (value: string) => createHash("sha256").update(value).digest();

/**
 * Who may read `/metrics`: with METRICS_TOKEN set, a request carrying it as `Authorization: Bearer`
 * (compared in constant time), from anywhere; without it, in development only, a request from this
 * machine that no proxy forwarded (so `npm start` and a local Prometheus work with nothing set). Anyone
 * else is refused, so the surface is closed by default in production.
 */
export function metricsAccess(config: Config["metrics"], req: IncomingMessage): MetricsAccess {
  if (config.token !== null) {
    const sent = bearerTokenOf(req);
    if (sent !== undefined && timingSafeEqual(digest(sent), digest(config.token))) return { ok: true };
    return { ok: false, status: 401, message: "Send the metrics token (METRICS_TOKEN) as Authorization: Bearer <token>." };
  }
  const forwarded = req.headers["x-forwarded-for"] !== undefined || req.headers.forwarded !== undefined;
  if (config.openOnLoopback && !forwarded && LOOPBACK.has(req.socket.remoteAddress ?? "")) return { ok: true };
  return { ok: false, status: 403, message: "Metrics are closed: set METRICS_TOKEN and send it as Authorization: Bearer <token>." };
}
