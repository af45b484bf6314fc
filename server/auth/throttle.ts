import type { RateLimiterAbstract } from "rate-limiter-flexible";
import type { Redis } from "ioredis";
import type { Config } from "../config";
import { redisLimiter, take, tooManyRequests } from "../rate-limits";

export type LoginThrottleOptions = Config["loginThrottle"];

/** What a log-in attempt holds once admitted: a successful one gives its reservation back. */
export type LoginReservation = { succeeded(): Promise<void> };

/** How long an address stays known to an account after a log-in or sign-up from it. */
const KNOWN_ADDRESS_SECONDS = 30 * 86_400;
const REFUSED = "Too many failed log-in attempts";

/**
 * Log-in attempts, counted before the password is checked. Each counter is one atomic increment in
 * Redis, so attempts in flight together (in parallel, or in one batch) get at most the limit of password
 * checks. The layers, in order:
 *   1. per address, any email (`maxPerAddress`): one address spraying many accounts;
 *   2. per (email, address) (`maxPerEmail`): one address guessing one account. Both lock for the window;
 *   3. per email from every address (`emailCeiling`): many addresses guessing one account. Past it the
 *      account is slowed, not locked: one attempt per `emailSlowSeconds` for all of them together. An
 *      address that logged in to the account (or signed it up) within 30 days skips this layer.
 * A wrong password and an unknown email are counted alike. A successful log-in refunds its attempt at the
 * address and the email, and clears its (email, address) failures. See docs/security.md.
 */
export class LoginThrottle {
  private readonly byAddress: RateLimiterAbstract;
  private readonly byPair: RateLimiterAbstract;
  private readonly byEmail: RateLimiterAbstract;
  private readonly emailSlow: RateLimiterAbstract;

  constructor(
    private readonly redis: Redis,
    opts: LoginThrottleOptions,
  ) {
    this.byAddress = redisLimiter(redis, "login:addr", opts.maxPerAddress, opts.windowSeconds);
    this.byPair = redisLimiter(redis, "login:email-addr", opts.maxPerEmail, opts.windowSeconds);
    this.byEmail = redisLimiter(redis, "login:email", opts.emailCeiling, opts.windowSeconds);
    this.emailSlow = redisLimiter(redis, "login:email-slow", 1, opts.emailSlowSeconds);
  }

  /**
   * Takes one attempt from every layer that applies, or throws TOO_MANY_REQUESTS with when to retry.
   * A refused layer stops there: the layers after it are not counted.
   */
  async reserve(email: string, address: string | null): Promise<LoginReservation> {
    if (address !== null) {
      const refusal = await take(this.byAddress, address);
      if (refusal) throw tooManyRequests(REFUSED, refusal);
    }
    const pair = pairKey(email, address);
    const pairRefusal = await take(this.byPair, pair);
    if (pairRefusal) throw tooManyRequests(REFUSED, pairRefusal);
    const known = await this.isKnown(pair);
    if (!known && (await take(this.byEmail, email))) {
      const refusal = await take(this.emailSlow, email);
      if (refusal) throw tooManyRequests(REFUSED, refusal);
    }
    return {
      succeeded: async () => {
        // A refund that fails leaves the attempt counted: that errs on the safe side, so it is not an error.
        await Promise.all([
          address !== null ? this.byAddress.reward(address, 1) : null,
          this.byPair.delete(pair),
          known ? null : this.byEmail.reward(email, 1),
          this.rememberAddress(email, address),
        ]).catch(() => {});
      },
    };
  }

  /** Marks the address as one the account's owner uses (after a log-in or a sign-up from it). */
  async rememberAddress(email: string, address: string | null): Promise<void> {
    if (this.redis.status !== "ready") return;
    await this.redis.set(`login:known:${pairKey(email, address)}`, "1", "EX", KNOWN_ADDRESS_SECONDS).catch(() => {});
  }

  private async isKnown(pair: string): Promise<boolean> {
    // Unknown while Redis is down: the slower path, never the more permissive one.
    if (this.redis.status !== "ready") return false;
    return (await this.redis.exists(`login:known:${pair}`).catch(() => 0)) === 1;
  }
}

/** Emails hold no space (the schema checks), addresses neither: the pair's key is unambiguous. */
function pairKey(email: string, address: string | null): string {
  return `${address ?? "-"} ${email}`;
}
