/**
 * Functional tests make many hires and tenants per account, and sign up from one address, within
 * seconds: the test helpers turn the per-procedure rate limits off. tests/integration/limits.test.ts
 * proves them, with limits of its own.
 */
export const RELAXED_RATE_LIMITS = {
  RATE_LIMIT_SIGN_UP_PER_ADDRESS: "off",
  RATE_LIMIT_HIRES_PER_ACCOUNT: "off",
  RATE_LIMIT_HIRES_PER_ADDRESS: "off",
  RATE_LIMIT_TENANTS_PER_ACCOUNT: "off",
  RATE_LIMIT_TENANTS_PER_ADDRESS: "off",
};
