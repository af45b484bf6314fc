import { randomUUID } from "node:crypto";
import { api } from "../lib/api";
import { createAgency } from "../lib/fixtures";
import { round } from "../lib/stats";

export type IdempotencyOptions = { baseUrl: string; appUrl: string; hires: number };

const WAVE = 200;

/**
 * What an Idempotency-Key costs a hire: `hires` hires in waves of 200 at once without a key, then as
 * many with a new key each, alternating three times after a warm-up. The key is claimed in the hire's
 * own statement (migration 0014), so the keyed waves should take little longer.
 */
export async function runIdempotency(opts: IdempotencyOptions) {
  const agency = await createAgency({ baseUrl: opts.baseUrl, appUrl: opts.appUrl, providers: 20, clients: 20, label: "idempotency" });
  const startsAt = new Date(Date.now() + 86_400_000).toISOString();
  const callers = agency.clientTokens.map((token) => api(opts.baseUrl, { authorization: `Bearer ${token}`, "x-tenant-id": agency.tenant.slug }));
  const run = async (keyed: boolean, count: number) => {
    const started = performance.now();
    for (let done = 0; done < count; done += WAVE) {
      await Promise.all(
        Array.from({ length: Math.min(WAVE, count - done) }, (_, i) =>
          callers[i % callers.length]!.mutate(
            "hires.create",
            { providerId: agency.providers[i % agency.providers.length]!.userId, jobDescription: `Idempotency bench ${done + i}`, location: "Milan", startsAt },
            keyed ? { "idempotency-key": randomUUID() } : {},
          ),
        ),
      );
    }
    return performance.now() - started;
  };
  await run(false, WAVE);
  await run(true, WAVE);
  const ms = { plain: 0, keyed: 0 };
  for (let round = 0; round < 3; round++) {
    ms.plain += await run(false, opts.hires);
    ms.keyed += await run(true, opts.hires);
  }
  return {
    hiresPerVariant: 3 * opts.hires,
    plainMsPerHire: round(ms.plain / (3 * opts.hires), 3),
    keyedMsPerHire: round(ms.keyed / (3 * opts.hires), 3),
    keyedToPlainRatio: round(ms.keyed / ms.plain, 2),
  };
}
