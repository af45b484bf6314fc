import { signUp } from "../lib/api";
import { percentile, round } from "../lib/stats";

export type LoginOptions = { baseUrl: string; attempts: number };

/** Wrong-password attempts per account, under LOGIN_MAX_FAILURES_PER_EMAIL's default (10), so none is throttled. */
const PER_ACCOUNT = 5;

/**
 * Log-in time for a wrong password and for an unknown email, taken in turns so both meet the same load.
 * They should match: an unknown email is checked against a dummy hash of the same cost
 * (tests/integration/auth.test.ts proves that the same argon2id check runs; this measures what a caller
 * with a stopwatch would see). Without the dummy hash the ratio would be about 1/30.
 */
export async function runLogin(opts: LoginOptions) {
  const accounts = await Promise.all(Array.from({ length: Math.ceil((opts.attempts + 1) / PER_ACCOUNT) }, () => signUp(opts.baseUrl, "login")));
  const attempt = async (email: string) => {
    const started = performance.now();
    const res = await fetch(`${opts.baseUrl}/trpc/auth.logIn`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "not-the-password" }),
    });
    await res.text();
    if (res.status !== 401) throw new Error(`a wrong log-in answered ${res.status}, not 401 (throttled?)`);
    return performance.now() - started;
  };
  const nobody = (i: number) => `nobody-${i}-${Math.random().toString(36).slice(2, 8)}@bench.aiutami.test`;
  // Warm-up: the dummy hash is made on first use, and the first calls compile their paths.
  await attempt(accounts[0]!.user.email);
  await attempt(nobody(-1));
  const wrong: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < opts.attempts; i++) {
    wrong.push(await attempt(accounts[Math.floor((i + 1) / PER_ACCOUNT)]!.user.email));
    unknown.push(await attempt(nobody(i)));
  }
  const wrongP50 = percentile(wrong, 50);
  const unknownP50 = percentile(unknown, 50);
  return {
    attempts: opts.attempts,
    wrongPasswordP50Ms: round(wrongP50, 1),
    unknownEmailP50Ms: round(unknownP50, 1),
    wrongPasswordP95Ms: round(percentile(wrong, 95), 1),
    unknownEmailP95Ms: round(percentile(unknown, 95), 1),
    unknownToWrongRatio: round(unknownP50 / wrongP50, 2),
  };
}
