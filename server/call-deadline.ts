import { deadlineExceeded } from "./errors";

export type CallDeadline = {
  /** Aborts at the deadline (with a DeadlineExceededError), or with `parent`'s reason when that aborts first. */
  signal: AbortSignal;
  /** Stops the timer and lets go of `parent`; call it once the call has answered. */
  done(): void;
};

/**
 * The deadline of one call: `ms` after `startedAt` (a `performance.now()` time, by default now). Work
 * bound to the signal (a database handle from bindToSignal, `orAbort`) stops when it aborts.
 * @example
 * const deadline = startDeadline({ ms: config.callDeadlineMs, parent: req.signal });
 * try { return await orAbort(work(bindToSignal(db, deadline.signal)), deadline.signal); } finally { deadline.done(); }
 */
export function startDeadline(opts: { ms: number; startedAt?: number; parent?: AbortSignal }): CallDeadline {
  const controller = new AbortController();
  const { parent } = opts;
  const left = opts.ms - (performance.now() - (opts.startedAt ?? performance.now()));
  const timer = setTimeout(() => controller.abort(deadlineExceeded(opts.ms)), Math.max(0, left));
  const onParent = () => controller.abort(parent?.reason);
  if (parent?.aborted) onParent();
  else parent?.addEventListener("abort", onParent, { once: true });
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParent);
    },
  };
}
