import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { Redis } from "ioredis";
import type { Rate, RateLimitsConfig } from "./config";
import { AppError } from "./errors";

/**
 * A counter of `points` per `seconds` in Redis, each `consume` one atomic increment (a Lua script), so
 * calls in flight together cannot all pass. When Redis is down it counts in this process's memory
 * instead of letting every call through.
 */
export function redisLimiter(redis: Redis, keyPrefix: string, points: number, seconds: number): RateLimiterAbstract {
  return new RateLimiterRedis({
    storeClient: redis,
    keyPrefix,
    points,
    duration: seconds,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration: seconds }),
  });
}

/** Takes `points` from `key`; null when they were there, else the refusal (with when to retry). */
export async function take(limiter: RateLimiterAbstract, key: string, points = 1): Promise<RateLimiterRes | null> {
  try {
    await limiter.consume(key, points);
    return null;
  } catch (err) {
    if (err instanceof RateLimiterRes) return err;
    throw err;
  }
}

export function retryAfterSecondsOf(refusal: RateLimiterRes): number {
  return Math.max(1, Math.ceil(refusal.msBeforeNext / 1000));
}

export function tooManyRequests(message: string, refusal: RateLimiterRes): AppError {
  const retryAfterSeconds = retryAfterSecondsOf(refusal);
  return new AppError("TOO_MANY_REQUESTS", `${message}. Try again in ${retryAfterSeconds} s.`, { retryAfterSeconds });
}

export type RateLimitName = keyof RateLimitsConfig;

const WHAT: Record<RateLimitName, string> = { signUp: "sign-ups", hiresCreate: "hire requests", tenantsCreate: "new agencies" };

/**
 * Calls per account and per address for the procedures that create things (sign-up, hires, tenants).
 * Every call counts when it starts, before any work, so parallel calls and the calls of one batch
 * are counted one by one.
 */
export class RateLimits {
  private readonly limiters: Record<RateLimitName, { perAccount: RateLimiterAbstract | null; perAddress: RateLimiterAbstract | null }>;

  constructor(redis: Redis, config: RateLimitsConfig) {
    const make = (name: string, rate: Rate) => (rate ? redisLimiter(redis, `rate:${name}`, rate.points, rate.seconds) : null);
    this.limiters = {
      signUp: { perAccount: make("sign-up:account", config.signUp.perAccount), perAddress: make("sign-up:addr", config.signUp.perAddress) },
      hiresCreate: { perAccount: make("hires:account", config.hiresCreate.perAccount), perAddress: make("hires:addr", config.hiresCreate.perAddress) },
      tenantsCreate: { perAccount: make("tenants:account", config.tenantsCreate.perAccount), perAddress: make("tenants:addr", config.tenantsCreate.perAddress) },
    };
  }

  /** Counts one call; throws TOO_MANY_REQUESTS with `retryAfterSeconds` when the address or the account has none left. */
  async take(name: RateLimitName, who: { userId: string | null; address: string | null }): Promise<void> {
    const { perAccount, perAddress } = this.limiters[name];
    if (perAddress && who.address !== null) {
      const refusal = await take(perAddress, who.address);
      if (refusal) throw tooManyRequests(`Too many ${WHAT[name]} from this address`, refusal);
    }
    if (perAccount && who.userId !== null) {
      const refusal = await take(perAccount, who.userId);
      if (refusal) throw tooManyRequests(`Too many ${WHAT[name]} from this account`, refusal);
    }
  }
}
