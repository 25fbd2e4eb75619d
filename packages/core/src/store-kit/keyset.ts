import type { AuditEvent } from "../event.js";
import { cursorNotFound } from "../filter.js";

/** Where a keyset page continues: the `(time, id)` of the last event read. */
export interface CursorKey {
  time: string;
  id: string;
}

/** Options of {@link keysetPages}. */
export interface KeysetOptions<T> {
  /** Continue after this key (the filter's `after`, looked up); from the start when absent. */
  start?: CursorKey | undefined;
  /** Stop after this many items (the filter's `limit`). */
  limit?: number | undefined;
  /**
   * Items per page.
   * @default 1000
   */
  pageSize?: number;
  /** The key of an item. @default the item itself read as an event */
  keyOf?: (item: T) => CursorKey;
  /** Called before each page: throw to stop (a store that was closed meanwhile). */
  check?: () => void;
}

/**
 * Every item of a keyset-paged read exactly once, in order, in constant memory: `page(cursor,
 * size)` returns up to `size` items after `cursor` in the read's order. A short page ends the
 * read. Rows written meanwhile never shift a page, so nothing is skipped or repeated even when
 * thousands of events share one timestamp.
 */
export async function* keysetPages<T = AuditEvent>(
  page: (cursor: CursorKey | undefined, size: number) => Promise<readonly T[]> | readonly T[],
  options: KeysetOptions<T> = {},
): AsyncGenerator<T> {
  const pageSize = options.pageSize ?? 1000;
  const keyOf = options.keyOf ?? ((item: T) => item as unknown as CursorKey);
  let cursor = options.start;
  let remaining = options.limit;
  while (remaining === undefined || remaining > 0) {
    options.check?.();
    const size = Math.min(pageSize, remaining ?? pageSize);
    const items = await page(cursor, size);
    for (const item of items) yield item;
    if (items.length < size) return;
    const last = keyOf(items[items.length - 1]!);
    cursor = { time: last.time, id: last.id };
    if (remaining !== undefined) remaining -= items.length;
  }
}

/**
 * Looks up the key of the filter's `after` cursor with the store's own `lookup`.
 * @throws AuditValidationError when no stored event has that id (a typo must not read everything).
 */
export async function cursorOf(
  after: string | undefined,
  lookup: (id: string) => Promise<CursorKey | undefined> | CursorKey | undefined,
): Promise<CursorKey | undefined> {
  if (after === undefined) return undefined;
  const key = await lookup(after);
  if (!key) throw cursorNotFound(after);
  return { time: key.time, id: key.id };
}
