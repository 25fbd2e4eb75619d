import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuditEvent, AuditStore } from "@audit/core";
import { compareEvents, eventMatches, resolveFilter } from "@audit/core/store-kit";
import { filterFromParams } from "./filter-params.js";
import { HttpError } from "./http.js";
import type { LiveFeed } from "./live-feed.js";
import { SseStream } from "./sse.js";

const PAGE = 500;

// Every client of the feed gets the same event objects: serialise each once, not once per client.
const serialized = new WeakMap<AuditEvent, string>();
function json(e: AuditEvent): string {
  let s = serialized.get(e);
  if (s === undefined) {
    s = JSON.stringify(e);
    serialized.set(e, s);
  }
  return s;
}

/**
 * `GET /api/stream`: matching events as Server-Sent Events, live. The SSE id of each frame is the
 * newest (time, id) sent so far, so a reconnect with `Last-Event-ID` (or `?lastEventId=`) first
 * replays everything stored after it, then continues live; events that arrive during the replay
 * are held back and sent once, after it. `?since=1h` replays from a time instead.
 */
export async function streamEvents(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  store: AuditStore,
  feed: LiveFeed,
): Promise<void> {
  const filter = filterFromParams(url.searchParams, {
    defaultLimit: 1,
    maxLimit: 1,
    without: ["limit", "order", "after", "until"],
    extra: ["lastEventId"],
  });
  const header = req.headers["last-event-id"];
  const cursor =
    (typeof header === "string" && header !== "" ? header : undefined) ??
    (url.searchParams.get("lastEventId") || undefined);
  let mark: AuditEvent | undefined;
  if (cursor !== undefined) {
    mark = await store.get(cursor);
    if (!mark)
      throw new HttpError(
        400,
        `Last-Event-ID ${cursor} is not in the store (pruned, or from another store); reconnect without it or with ?since=`,
      );
  }
  const since = filter.since;
  delete filter.since;
  const wanted = resolveFilter({ ...filter, order: "asc" });

  let live = false;
  const held: AuditEvent[] = [];
  let sse: SseStream | undefined;
  const emit = (e: AuditEvent) => {
    if (mark === undefined || compareEvents(e, mark) > 0) mark = e;
    sse?.send({ id: mark.id, data: json(e) });
  };
  // Ids sent by the replay that the feed may still deliver (it reads on its own schedule): each
  // is skipped once when it does, and forgotten once the feed's window has moved past it.
  const replayed = new Map<string, string>();
  const remove = await feed.add((e) => {
    if (!eventMatches(wanted, e)) return;
    if (!live) {
      held.push(e);
      return;
    }
    if (replayed.size > 0) {
      for (const [id, time] of replayed) if (time < feed.windowStart) replayed.delete(id);
      if (replayed.delete(e.id)) return;
    }
    emit(e);
  });
  // Joined the feed before answering: a store that is down is still a plain 503, not a stream
  // that opens and ends at once.
  sse = new SseStream(req, res);
  sse.onClose(remove);

  if (cursor !== undefined || since !== undefined) {
    let after = cursor;
    while (!sse.closed) {
      const page = await store.query({
        ...filter,
        order: "asc",
        limit: PAGE,
        ...(after !== undefined ? { after } : { since: since! }),
      });
      for (const e of page) {
        emit(e);
        // A margin past the window: held events were delivered while the window still had them.
        if (Date.parse(e.time) >= Date.parse(feed.windowStart) - 60_000) replayed.set(e.id, e.time);
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.id;
    }
  }
  for (const e of held) if (!replayed.delete(e.id)) emit(e);
  held.length = 0;
  live = true;
  sse.comment("live");
}
