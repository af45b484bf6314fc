import { DeadlineExceededError, isTemporaryFailure, OUTAGE_RETRY_AFTER_SECONDS } from "../errors";
import type { Logger } from "../logger";
import type { HubErrorCode, HubErrorData } from "./events";

/** A handshake refused for a reason of its own: final, or SERVICE_UNAVAILABLE for a connection gone. */
export class HubRefusal extends Error {
  constructor(readonly code: HubErrorCode, message: string) {
    super(message);
  }
}

/** The error Socket.IO sends as `connect_error`, with the `data` the client reads. */
function refuse(code: HubErrorCode, message: string): Error {
  const data: HubErrorData = code === "SERVICE_UNAVAILABLE" ? { code, retryAfterSeconds: OUTAGE_RETRY_AFTER_SECONDS } : { code };
  return Object.assign(new Error(message), { data });
}

/** The error a refused handshake answers: a HubRefusal as it is; any failure as a temporary one. */
export function refusalOf(err: unknown, userId: string | undefined, log: Logger): Error {
  if (err instanceof HubRefusal) return refuse(err.code, err.message);
  if (isTemporaryFailure(err) || err instanceof DeadlineExceededError) {
    log.warn({ err: (err as Error).message, userId }, "socket handshake failed for now; the client will retry");
  } else {
    log.error({ err, userId }, "socket handshake failed");
  }
  return refuse("SERVICE_UNAVAILABLE", "The inbox cannot open right now (the database or Redis is unavailable): try again shortly.");
}
