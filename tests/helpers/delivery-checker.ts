import postgres from "postgres";
import { fileDatabaseUrl } from "./file-database";
import { eventually } from "./sockets";

/**
 * Compares what PostgreSQL committed for a user with what a device received: every committed
 * notification exactly once, in seq order, and nothing that was not committed.
 */
export async function checkDelivery(received: Array<{ id: string; seq: number }>, userId: string, ownerUrl = fileDatabaseUrl()) {
  const sql = postgres(ownerUrl, { max: 1, onnotice: () => {} });
  try {
    const committed = await sql<{ id: string; seq: string }[]>`select id, seq from notifications where user_id = ${userId} order by seq`;
    const ids = received.map((n) => n.id);
    const duplicates = ids.length - new Set(ids).size;
    const committedIds = new Set(committed.map((c) => c.id));
    const uncommitted = ids.filter((id) => !committedIds.has(id)).length;
    const receivedIds = new Set(ids);
    const missing = committed.filter((c) => !receivedIds.has(c.id)).length;
    const inOrder = received.every((n, i) => i === 0 || n.seq > received[i - 1]!.seq);
    return { committed: committed.length, received: received.length, duplicates, uncommitted, missing, inOrder };
  } finally {
    await sql.end();
  }
}

/**
 * Waits until PostgreSQL records every notification of `userId` as streamed: from then on no relay
 * appends one of them again. A check that nothing arrives twice (or nothing more) then sends a marker, a
 * later notification for the same user, and waits for it: a repeat would be on the user's stream, so on
 * the device, before the marker. That proves the check looked after delivery had happened, where a
 * fixed sleep passes without checking anything when delivery is merely slow.
 */
export async function untilAllStreamed(userId: string, ownerUrl = fileDatabaseUrl(), timeoutMs = 30_000): Promise<void> {
  const sql = postgres(ownerUrl, { max: 1, onnotice: () => {} });
  try {
    await eventually(
      async () => (await sql<{ n: number }[]>`select count(*)::int as n from notifications where user_id = ${userId} and streamed_at is null`)[0]!.n === 0,
      `every notification of ${userId} recorded as streamed`,
      timeoutMs,
    );
  } finally {
    await sql.end();
  }
}
