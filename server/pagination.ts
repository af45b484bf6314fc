/**
 * Keyset paging: the query asks for `limit + 1` rows; this keeps `limit` and, when there was one
 * more, names where the next page starts (the last kept row's key).
 * @example const { page, nextCursor } = takePage(rows, input.limit, (r) => r.id);
 */
export function takePage<Row, Cursor>(rows: Row[], limit: number, cursorOf: (last: Row) => Cursor): { page: Row[]; nextCursor: Cursor | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, nextCursor: rows.length > limit && last !== undefined ? cursorOf(last) : null };
}
