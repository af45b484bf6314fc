import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../server/config";

describe("loadConfig", () => {
  it("runs on embedded defaults with nothing set", () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.database).toEqual({ kind: "pglite", dataDir: ".data/pg" });
    expect(config.redis).toEqual({ url: "redis://127.0.0.1:6379", explicit: false });
    expect(config.session.inactivityMs).toBe(14 * 86_400_000);
    expect(config.session.absoluteMs).toBe(30 * 86_400_000);
    expect(config.cookieSecure).toBe(false);
    expect(config.loginThrottle).toEqual({ maxPerEmail: 10, maxPerAddress: 50, windowSeconds: 900, emailCeiling: 30, emailSlowSeconds: 30 });
  });

  it("reports every bad variable at once, by name", () => {
    let error: unknown;
    try {
      loadConfig({ PORT: "eighty", DATABASE_URL: "mysql://x", REDIS_URL: "localhost:6379", SESSION_INACTIVITY_DAYS: "-1", TRUST_PROXY: "maybe" });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const names = (error as ConfigError).problems.map((p) => p.split(":")[0]);
    expect(names.sort()).toEqual(["DATABASE_URL", "PORT", "REDIS_URL", "SESSION_INACTIVITY_DAYS", "TRUST_PROXY"]);
    expect((error as ConfigError).message).toMatch(/^Invalid configuration:\n {2}- /);
  });

  it("checks variables against each other", () => {
    expect(() => loadConfig({ SESSION_INACTIVITY_DAYS: "40", SESSION_ABSOLUTE_DAYS: "30" })).toThrow(/SESSION_ABSOLUTE_DAYS/);
    expect(() => loadConfig({ DATABASE_APP_URL: "postgres://a@b/c" })).toThrow(/DATABASE_APP_URL: needs DATABASE_URL/);
  });

  it("derives the server's connection from the owner's, as the aiutami_app role", () => {
    const config = loadConfig({ DATABASE_URL: "postgres://postgres:secret@db:5432/aiutami", DATABASE_APP_PASSWORD: "p@ss word" });
    expect(config.database).toMatchObject({
      kind: "postgres",
      ownerUrl: "postgres://postgres:secret@db:5432/aiutami",
      appUrl: "postgres://aiutami_app:p%40ss%20word@db:5432/aiutami",
    });
    const explicit = loadConfig({ DATABASE_URL: "postgres://o@h/d", DATABASE_APP_URL: "postgres://svc:pw@h/d" });
    expect(explicit.database).toMatchObject({ appUrl: "postgres://svc:pw@h/d" });
  });

  it("treats empty variables as unset and parses lists and booleans", () => {
    const config = loadConfig({ PORT: "", ALLOWED_ORIGINS: "https://a.test, https://b.test,", TRUST_PROXY: "true", NODE_ENV: "production" });
    expect(config.port).toBe(3000);
    expect(config.allowedOrigins).toEqual(["https://a.test", "https://b.test"]);
    expect(config.trustProxy).toBe(true);
    expect(config.cookieSecure).toBe(true);
  });
});
