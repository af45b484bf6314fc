import postgres from "postgres";
import { fileDatabaseUrl } from "./file-database";

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
