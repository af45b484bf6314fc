import { bindToSignal } from "../../db/query-abort";
import { findEndedSessions } from "../auth/sessions";
import { startDeadline } from "../call-deadline";
import type { AppDeps } from "../context";
import type { HubSocket } from "./socket-server";

/**
 * Sessions revoked elsewhere are announced on the stream; this sweep, every HUB_SESSION_CHECK_MS, also
 * catches expiry. Only rows read say a session is gone: a check that fails (the database down or too
 * slow) disconnects nobody. One check at a time, each within the call deadline, so a database that
 * hangs does not pile them up. Returns the function that stops it.
 */
export function startSessionSweep(deps: Pick<AppDeps, "db" | "config" | "clock" | "log">, sockets: () => Iterable<HubSocket>): () => void {
  const { config, log } = deps;
  let sweeping = false;
  const sweep = setInterval(() => {
    if (sweeping) return;
    const bySession = new Map<string, HubSocket[]>();
    for (const s of sockets()) bySession.set(s.data.sessionId, [...(bySession.get(s.data.sessionId) ?? []), s]);
    if (bySession.size === 0) return;
    sweeping = true;
    const deadline = startDeadline({ ms: config.callDeadlineMs });
    void findEndedSessions({ db: bindToSignal(deps.db, deadline.signal), sessionIds: [...bySession.keys()], now: deps.clock(), policy: config.session })
      .then((ended) => {
        for (const id of ended) for (const s of bySession.get(id) ?? []) s.disconnect(true);
      })
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, "session sweep failed; open sockets stay open"))
      .finally(() => {
        sweeping = false;
        deadline.done();
      });
  }, config.hub.sessionCheckMs);
  sweep.unref();
  return () => clearInterval(sweep);
}
