export * from "./users";
export * from "./sessions";
export * from "./tenants";
export * from "./audit-log";
export * from "./profiles";
export * from "./hires";
export * from "./notifications";
export * from "./idempotency-keys";
