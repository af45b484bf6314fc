import { sql } from "drizzle-orm";
import type { Database, Transaction } from "../db/client";

/**
 * Binds the user (and tenant) to the current transaction for row-level security. Both settings
 * are transaction-local (`set_config(..., true)`): they vanish at commit or rollback, so a
 * pooled connection never carries them into another request.
 */
export async function bindScope(tx: Database, scope: { userId?: string | null; tenantId?: string | null; relay?: boolean }) {
  await tx.execute(
    sql`select set_config('app.user_id', ${scope.userId ?? ""}, true), set_config('app.tenant_id', ${scope.tenantId ?? ""}, true), set_config('app.scope', ${scope.relay ? "relay" : ""}, true)`,
  );
}

/** Runs `fn` in a transaction that sees what the user may see across their tenants (memberships, tenant names). */
export function withUserScope<T>(db: Database, userId: string, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await bindScope(tx, { userId });
    return fn(tx);
  });
}

/**
 * The relay's scope: notifications of every user, for streaming them and for the hub's catch-up.
 * Tenant tables stay invisible in it.
 */
export function withRelayScope<T>(db: Database, fn: (tx: Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await bindScope(tx, { relay: true });
    return fn(tx);
  });
}
