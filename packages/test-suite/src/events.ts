import { type AuditEvent, uuidv7 } from "@audit/core";
import { compareEvents } from "@audit/core/store-kit";

const BASE = Date.parse("2026-01-01T00:00:00.000Z");

/** An ISO event time `ms` milliseconds after a fixed base instant. */
export function timeAt(ms: number): string {
  return new Date(BASE + ms).toISOString();
}

/** A valid event with a fresh UUIDv7; any field can be overridden. */
export function makeEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: uuidv7(),
    type: "tool.start",
    time: timeAt(0),
    data: { tool: "search", callId: "c1" },
    ...overrides,
  };
}

/** `n` valid events, built by `each(i)` on top of {@link makeEvent}. */
export function makeEvents(
  n: number,
  each: (i: number) => Partial<AuditEvent> = () => ({}),
): AuditEvent[] {
  return Array.from({ length: n }, (_, i) => makeEvent(each(i)));
}

/** A copy sorted in trail order, `(time, id)`. */
export function sorted(events: readonly AuditEvent[], order: "asc" | "desc" = "asc"): AuditEvent[] {
  const out = [...events].sort(compareEvents);
  return order === "asc" ? out : out.reverse();
}

/** Ids of events, for compact comparisons. */
export function ids(events: readonly AuditEvent[]): string[] {
  return events.map((e) => e.id);
}

/** A deterministic shuffle (mulberry32), so a failing order can be reproduced. */
export function shuffle<T>(items: readonly T[], seed = 42): T[] {
  const out = [...items];
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Appends in chunks, as the auditor's batches would arrive. */
export async function appendInChunks(
  store: { append(e: readonly AuditEvent[]): Promise<void> },
  events: readonly AuditEvent[],
  size = 500,
): Promise<void> {
  for (let i = 0; i < events.length; i += size) await store.append(events.slice(i, i + size));
}
