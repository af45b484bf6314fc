import postgres from "postgres";
import { uuidv7 } from "uuidv7";
import { openPostgres } from "../../db/migrate";
import type { AppDeps } from "../../server/context";
import type { CreateHireOutcome, CreateHireStatement } from "../../server/hires/statements";
import { HireWriter } from "../../server/hires/writer";
import { fileDatabaseUrl } from "./file-database";
import type { Marketplace } from "./hiring";
import { createProvider, profileInput } from "./profiles";
import { eventually } from "./sockets";
import type { TestEnv } from "./test-app";

/** A hire as HireWriter takes it, from `m`'s client to `provider` (by default `m`'s provider). */
export function hireStatement(m: Marketplace, n: number, opts: { hireId?: string; provider?: string } = {}): CreateHireStatement {
  const now = new Date().toISOString();
  return {
    ref: m.tenant.slug,
    roles: ["client"],
    hire: {
      id: opts.hireId ?? uuidv7(), clientId: m.client.id, providerId: opts.provider ?? m.provider.id, status: "requested",
      jobDescription: `Group commit fault ${n}`, location: "Milan", lat: null, lng: null,
      startsAt: new Date(Date.now() + 86_400_000).toISOString(), endsAt: null, clientFullName: "Client User", clientPhone: null, createdAt: now, updatedAt: now,
    },
    notificationId: uuidv7(),
    auditId: uuidv7(),
    actor: { actorUserId: m.client.id, actorSessionId: null, ip: null, userAgent: null, requestId: `fault-${n}` },
    idempotency: null,
  };
}

/** A HireWriter that counts the hires handed to it, so a test can wait until they are all queued. */
class CountingHireWriter extends HireWriter {
  received = 0;
  /** Of those, the plugs that hold its slots. */
  plugs = 0;
  override create(statement: CreateHireStatement, signal?: AbortSignal): Promise<CreateHireOutcome> {
    this.received++;
    return super.create(statement, signal);
  }
}

export type HeldHireWriter = {
  writer: HireWriter;
  /** `env.deps` with this writer, and a call deadline no loaded machine reaches while the writer is held. */
  deps: AppDeps;
  /** Hires handed to the writer so far (plugs not counted). */
  readonly received: number;
  /**
   * Makes every statement slot busy: one plug hire per slot, each sent alone and waiting in PostgreSQL on
   * its provider's inbox row, which the test holds locked. Until `release()`, whatever the writer is
   * given waits in its queue.
   */
  hold(): Promise<void>;
  /** Waits until `count` hires in all have been handed to the writer (so all of them are queued). */
  untilReceived(count: number): Promise<void>;
  /** Lets the plugs commit; the queued hires then go, in batches of at most `maxBatch`. */
  release(): Promise<void>;
  close(): Promise<void>;
};

/**
 * A hire writer of the test's own whose group commit is driven by the test instead of by the race of
 * concurrent calls: `hold()`, hand it hires (through callers with `deps`, or `writer.create`),
 * `untilReceived(n)`, `release()`. The hires queued while the slots were busy then go together, which is
 * the property group commit promises; under real concurrency how many share a statement depends on the
 * machine's load. Its own pool has lock and statement timeouts long enough for the plugs' wait.
 */
export async function heldHireWriter(env: TestEnv, m: Marketplace, opts: { concurrency: number; maxBatch: number; maxQueued?: number }): Promise<HeldHireWriter> {
  if (env.config.database.kind !== "postgres") throw new Error("tests need PostgreSQL");
  const database = openPostgres(env.config.database.appUrl, opts.concurrency + 1, { statementTimeoutMs: 120_000, lockTimeoutMs: 120_000 });
  const writer = new CountingHireWriter(database.db, env.deps.log, { maxQueued: 5_000, ...opts });
  const { user: plug } = await createProvider(env, m.tenant, profileInput("tutor", "milan"));
  const locker = postgres(fileDatabaseUrl(), { max: 1, onnotice: () => {} });
  let held: { unlock(): void; done: Promise<unknown>; plugs: Array<Promise<unknown>> } | undefined;

  const release = async () => {
    if (!held) return;
    const { unlock, done, plugs } = held;
    held = undefined;
    unlock();
    await done;
    await Promise.all(plugs);
  };
  return {
    writer,
    deps: { ...env.deps, hireWriter: writer, config: { ...env.deps.config, callDeadlineMs: 120_000 } },
    get received() {
      return writer.received - writer.plugs;
    },
    hold: async () => {
      if (held) throw new Error("already held");
      let unlock!: () => void;
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const unlocked = new Promise<void>((resolve) => (unlock = resolve));
      const done = locker.begin(async (tx) => {
        // The row app_write_notification updates for the plug's notification (db/functions/notifications).
        await tx`insert into user_inbox (user_id, last_seq) values (${plug.id}, 0) on conflict (user_id) do update set last_seq = user_inbox.last_seq`;
        locked();
        await unlocked;
      });
      await isLocked;
      held = { unlock, done, plugs: [] };
      for (let slot = 0; slot < opts.concurrency; slot++) {
        const sent = writer.stats.statements;
        writer.plugs++;
        held.plugs.push(writer.create(hireStatement(m, -1 - slot, { provider: plug.id })));
        // Sent alone (the writer was idle): that slot is now busy until the lock goes.
        await eventually(() => writer.stats.statements === sent + 1, `plug ${slot + 1} sent`, 30_000);
      }
    },
    untilReceived: (count) => eventually(() => writer.received - writer.plugs >= count, `${count} hires handed to the writer`, 30_000),
    release,
    close: async () => {
      await release();
      await locker.end();
      await database.close();
    },
  };
}
