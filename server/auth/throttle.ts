import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Redis } from "ioredis";
import { AppError } from "../errors";

export type LoginThrottleOptions = { maxPerEmail: number; maxPerAddress: number; windowSeconds: number };

/**
 * Counts failed log-ins per email and per client address in Redis. When Redis is down the
 * counting falls back to this process's memory rather than letting every attempt through.
 */
export class LoginThrottle {
  private readonly byEmail: RateLimiterAbstract;
  private readonly byAddress: RateLimiterAbstract;

  constructor(redis: Redis, opts: LoginThrottleOptions) {
    const make = (keyPrefix: string, points: number) =>
      new RateLimiterRedis({
        storeClient: redis,
        keyPrefix,
        points,
        duration: opts.windowSeconds,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration: opts.windowSeconds }),
      });
    this.byEmail = make("login-fail:email", opts.maxPerEmail);
    this.byAddress = make("login-fail:addr", opts.maxPerAddress);
  }

  /** Throws TOO_MANY_REQUESTS, with when to retry, once either counter is spent. */
  async assertAllowed(email: string, address: string | null): Promise<void> {
    const checks: Array<[RateLimiterAbstract, string]> = [[this.byEmail, email]];
    if (address) checks.push([this.byAddress, address]);
    for (const [limiter, key] of checks) {
      const res = await limiter.get(key);
      if (res && res.consumedPoints >= limiter.points) {
        const retryAfterSeconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
        throw new AppError(
          "TOO_MANY_REQUESTS",
          `Too many failed log-in attempts. Try again in ${retryAfterSeconds} s.`,
          { retryAfterSeconds },
        );
      }
    }
  }

  async recordFailure(email: string, address: string | null): Promise<void> {
    // penalty() adds a point without rejecting: the next assertAllowed() decides.
    await this.byEmail.penalty(email);
    if (address) await this.byAddress.penalty(address);
  }

  async recordSuccess(email: string): Promise<void> {
    await this.byEmail.delete(email);
  }
}
