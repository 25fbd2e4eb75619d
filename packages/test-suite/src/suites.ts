import {
  ApprovalConflictError,
  ApprovalNotFoundError,
  type AuditEvent,
  type AuditFilter,
  Auditor,
  AuditTimeoutError,
  AuditValidationError,
} from "@audit/core";
import { appendInChunks, ids, makeEvent, makeEvents, shuffle, sorted, timeAt } from "./events.js";
import { type StoreHarness, type TestApi, useStore } from "./harness.js";

const byId = (a: AuditEvent, b: AuditEvent) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Append: round trip, idempotency, atomicity, what was really persisted. */
export function appendSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: append`, () => {
    const f = useStore(t, h);

    t.it("stores every field exactly and reads it back by id", async () => {
      const full = makeEvent({
        type: "llm.end",
        actor: "support-bot",
        sessionId: "s-1",
        runId: "r-1",
        spanId: "00f067aa0ba902b7",
        parentSpanId: "00f067aa0ba902b8",
        traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
        risk: "medium",
        data: {
          model: "m",
          nested: { list: [1, "two", { three: 3 }], empty: {}, flag: false, nothing: null },
          unicode: "héllo — 你好 — 👋",
          quote: 'a "quoted" \\ line\nbreak',
          big: "x".repeat(20_000),
        },
        chain: { id: "chain-1", seq: 1, prev: "", hash: "abc" },
      });
      const minimal = makeEvent({ time: timeAt(1), type: "custom.thing", data: {} });
      await f.store.append([full, minimal]);
      t.expect(await f.store.get(full.id)).toEqual(full);
      t.expect(await f.store.get(minimal.id)).toEqual(minimal);
      t.expect(await f.store.get("00000000-0000-7000-8000-000000000000")).toBeUndefined();
      if (h.readRaw)
        t.expect((await h.readRaw(f.store)).sort(byId)).toEqual([full, minimal].sort(byId));
    });

    t.it("is idempotent on id: a repeated id is skipped, never overwritten", async () => {
      const e = makeEvent({ data: { version: "original" } });
      await f.store.append([e]);
      await f.store.append([e]);
      await f.store.append([{ ...e, data: { version: "forged" } }]);
      t.expect(await f.store.count()).toBe(1);
      t.expect((await f.store.get(e.id))?.data).toEqual({ version: "original" });
      if (h.readRaw) t.expect(await h.readRaw(f.store)).toHaveLength(1);
    });

    t.it("keeps the first of two events with one id inside one batch", async () => {
      const e = makeEvent({ data: { n: 1 } });
      await f.store.append([e, { ...e, data: { n: 2 } }, makeEvent()]);
      t.expect(await f.store.count()).toBe(2);
      t.expect((await f.store.get(e.id))?.data).toEqual({ n: 1 });
    });

    t.it("accepts an empty batch", async () => {
      await f.store.append([]);
      t.expect(await f.store.count()).toBe(0);
    });

    t.it("writes a large batch in one append", async () => {
      const events = makeEvents(5000, (i) => ({ time: timeAt(i % 97) }));
      await f.store.append(events);
      t.expect(await f.store.count()).toBe(5000);
      if (h.readRaw) t.expect(await h.readRaw(f.store)).toHaveLength(5000);
    });

    t.it("rejects a batch with an invalid event and writes none of it", async () => {
      const good = makeEvent();
      const bad = { ...makeEvent(), type: "Not A Type" };
      await t.expect(f.store.append([good, bad])).rejects.toThrow(AuditValidationError);
      t.expect(await f.store.count()).toBe(0);
      if (h.readRaw) t.expect(await h.readRaw(f.store)).toHaveLength(0);
    });
  });
}

/** Bad input: every malformed event is refused with a clear error and nothing is written. */
export function badInputSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: bad input`, () => {
    const f = useStore(t, h);
    const cases: [string, unknown][] = [
      ["missing id", { ...makeEvent(), id: undefined }],
      ["empty id", { ...makeEvent(), id: "" }],
      ["uppercase type", { ...makeEvent(), type: "Tool.Start" }],
      ["time without milliseconds", { ...makeEvent(), time: "2026-01-01T00:00:00Z" }],
      ["time not a date", { ...makeEvent(), time: "yesterday" }],
      ["data an array", { ...makeEvent(), data: [1, 2] }],
      ["data missing", { ...makeEvent(), data: undefined }],
      ["unknown risk", { ...makeEvent(), risk: "extreme" }],
      ["actor not a string", { ...makeEvent(), actor: 42 }],
      ["not an object", "event"],
    ];
    for (const [name, bad] of cases) {
      t.it(`refuses an event with ${name}`, async () => {
        await t.expect(f.store.append([bad as AuditEvent])).rejects.toThrow(AuditValidationError);
        t.expect(await f.store.count()).toBe(0);
      });
    }

    t.it("refuses malformed filters instead of matching everything", async () => {
      await t
        .expect(f.store.query({ nope: 1 } as AuditFilter))
        .rejects.toThrow(AuditValidationError);
      await t.expect(f.store.query({ limit: -1 })).rejects.toThrow(AuditValidationError);
      await t.expect(f.store.query({ since: "not a time" })).rejects.toThrow(AuditValidationError);
      await t
        .expect(f.store.query({ risk: "severe" as "high" }))
        .rejects.toThrow(AuditValidationError);
      await t.expect(f.store.query({ type: "to*l" })).rejects.toThrow(AuditValidationError);
      await t.expect(f.store.prune({})).rejects.toThrow(AuditValidationError);
    });
  });
}

/**
 * Ordering and keyset pagination, with thousands of events sharing one timestamp: the case where
 * `(time >= t AND id > last)` paging skips rows.
 */
export function paginationSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: ordering and keyset pagination`, () => {
    const f = useStore(t, h);

    const seed = async () => {
      const same = makeEvents(3000, (i) => ({
        time: timeAt(1000),
        data: { i },
        type: i % 3 ? "tool.end" : "tool.start",
      }));
      const before = makeEvents(50, (i) => ({ time: timeAt(i), data: { i } }));
      const after = makeEvents(50, (i) => ({ time: timeAt(2000 + i), data: { i } }));
      const all = [...same, ...before, ...after];
      // Appended out of order: a store must order by (time, id), not by arrival.
      await appendInChunks(f.store, shuffle(all), 400);
      return all;
    };

    t.it("orders by (time, id) ascending and descending whatever the arrival order", async () => {
      const all = await seed();
      t.expect(ids(await f.store.query())).toEqual(ids(sorted(all)));
      t.expect(ids(await f.store.query({ order: "desc" }))).toEqual(ids(sorted(all, "desc")));
    });

    for (const order of ["asc", "desc"] as const) {
      t.it(
        `pages ${order} through 3,000 events with one timestamp without skipping or repeating`,
        async () => {
          const all = await seed();
          const seen: string[] = [];
          let after: string | undefined;
          let pages = 0;
          for (;;) {
            const page = await f.store.query({ order, limit: 97, ...(after && { after }) });
            if (page.length === 0) break;
            seen.push(...ids(page));
            after = page[page.length - 1]!.id;
            pages++;
          }
          t.expect(seen).toEqual(ids(sorted(all, order)));
          t.expect(pages).toBe(Math.ceil(all.length / 97));
        },
      );
    }

    t.it("pages with a filter and a cursor together", async () => {
      const all = await seed();
      const want = sorted(all.filter((e) => e.type === "tool.start"));
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await f.store.query({
          type: "tool.start",
          limit: 250,
          ...(after && { after }),
        });
        if (page.length === 0) break;
        seen.push(...ids(page));
        after = page[page.length - 1]!.id;
      }
      t.expect(seen).toEqual(ids(want));
    });

    t.it("counts with limit and cursor like query", async () => {
      const all = await seed();
      const s = sorted(all);
      t.expect(await f.store.count()).toBe(all.length);
      t.expect(await f.store.count({ limit: 10 })).toBe(10);
      t.expect(await f.store.count({ after: s[s.length - 5]!.id })).toBe(4);
    });

    t.it("rejects a cursor that names no stored event", async () => {
      await f.store.append(makeEvents(3));
      await t
        .expect(f.store.query({ after: "00000000-0000-7000-8000-00000000dead" }))
        .rejects.toThrow(AuditValidationError);
    });
  });
}

/** Every filter, alone and combined, with `limit` applied after the filter. */
export function filterSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: filters`, () => {
    const f = useStore(t, h);
    let all: AuditEvent[] = [];

    const seed = async () => {
      const now = Date.now();
      const iso = (ago: number) => new Date(now - ago).toISOString();
      all = [
        makeEvent({
          type: "run.start",
          time: iso(10 * 86_400_000),
          actor: "a",
          sessionId: "s1",
          runId: "r1",
          risk: "low",
          data: { agent: "a" },
        }),
        makeEvent({
          type: "tool.start",
          time: iso(5 * 86_400_000),
          actor: "a",
          sessionId: "s1",
          runId: "r1",
          data: { tool: "search", callId: "1", n: 1, ok: true },
        }),
        makeEvent({
          type: "tool.end",
          time: iso(2 * 3_600_000),
          actor: "a",
          sessionId: "s1",
          runId: "r1",
          risk: "medium",
          data: { tool: "search", callId: "1", n: 2, ok: false },
        }),
        makeEvent({
          type: "tool.error",
          time: iso(30 * 60_000),
          actor: "b",
          sessionId: "s2",
          runId: "r2",
          risk: "high",
          data: { tool: "refund", callId: "2", n: 3 },
        }),
        makeEvent({
          type: "approval.request",
          time: iso(20 * 60_000),
          actor: "b",
          sessionId: "s2",
          runId: "r2",
          risk: "critical",
          data: { approvalId: "ap-1", action: "refund" },
        }),
        makeEvent({
          type: "approval.resolve",
          time: iso(10 * 60_000),
          actor: "alice",
          sessionId: "s2",
          runId: "r2",
          data: { approvalId: "ap-1", outcome: "approve", resolvedBy: "alice" },
        }),
        makeEvent({
          type: "toolbox.open",
          time: iso(5 * 60_000),
          actor: "c",
          data: { tool: "search" },
        }),
        makeEvent({
          type: "policy.decision",
          time: iso(1000),
          actor: "c",
          risk: "high",
          data: { policy: "pii", decision: "deny" },
        }),
      ];
      await f.store.append(shuffle(all));
      return now;
    };

    const check = async (filter: AuditFilter, pick: (e: AuditEvent) => boolean) => {
      const want = ids(sorted(all.filter(pick)));
      t.expect(ids(await f.store.query(filter))).toEqual(want);
      t.expect(await f.store.count(filter)).toBe(want.length);
      const streamed: string[] = [];
      for await (const e of f.store.stream(filter)) streamed.push(e.id);
      t.expect(streamed).toEqual(want);
    };

    t.it("filters by exact type, a list of types, and a prefix pattern", async () => {
      await seed();
      await check({ type: "tool.start" }, (e) => e.type === "tool.start");
      await check(
        { type: ["run.start", "tool.end"] },
        (e) => e.type === "run.start" || e.type === "tool.end",
      );
      // "tool.*" must not match "toolbox.open".
      await check({ type: "tool.*" }, (e) => e.type.startsWith("tool."));
      await check(
        { type: ["approval.*", "run.start"] },
        (e) => e.type.startsWith("approval.") || e.type === "run.start",
      );
      await check({ type: "*" }, () => true);
      await check({ type: "nothing.here" }, () => false);
    });

    t.it("filters by actor, session, run and approval id", async () => {
      await seed();
      await check({ actor: "a" }, (e) => e.actor === "a");
      await check({ sessionId: "s2" }, (e) => e.sessionId === "s2");
      await check({ runId: "r1" }, (e) => e.runId === "r1");
      await check({ approvalId: "ap-1" }, (e) => e.data.approvalId === "ap-1");
      await check({ sessionId: "s2", actor: "b" }, (e) => e.sessionId === "s2" && e.actor === "b");
    });

    t.it("filters by risk as this level and above", async () => {
      await seed();
      const rank = { low: 0, medium: 1, high: 2, critical: 3 };
      await check({ risk: "low" }, (e) => e.risk !== undefined);
      await check({ risk: "high" }, (e) => e.risk !== undefined && rank[e.risk] >= 2);
      await check({ risk: "critical" }, (e) => e.risk === "critical");
    });

    t.it("filters by time: since inclusive, until exclusive, absolute and relative", async () => {
      const now = await seed();
      const third = sorted(all)[2]!;
      await check({ since: third.time }, (e) => e.time >= third.time);
      await check({ until: third.time }, (e) => e.time < third.time);
      await check(
        { since: new Date(third.time), until: new Date(now) },
        (e) => e.time >= third.time && e.time < new Date(now).toISOString(),
      );
      const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
      const got = ids(await f.store.query({ since: "1h" }));
      // Relative times resolve at query time; every event newer than an hour before the query.
      t.expect(got).toEqual(ids(sorted(all.filter((e) => e.time >= hourAgo))));
      t.expect(got.length).toBe(5);
    });

    t.it("filters by top-level payload equality of strings, numbers and booleans", async () => {
      await seed();
      await check({ data: { tool: "search" } }, (e) => e.data.tool === "search");
      await check({ data: { n: 2 } }, (e) => e.data.n === 2);
      await check({ data: { ok: false } }, (e) => e.data.ok === false);
      await check(
        { data: { tool: "search", n: 1 } },
        (e) => e.data.tool === "search" && e.data.n === 1,
      );
      await check({ data: { n: "2" } }, () => false);
    });

    t.it("applies limit after the filter, so older matches are never hidden", async () => {
      const old = makeEvents(5, (i) => ({
        type: "policy.decision",
        time: timeAt(i),
        data: { policy: "p", decision: "deny" },
      }));
      const noise = makeEvents(300, (i) => ({ type: "tool.start", time: timeAt(10_000 + i) }));
      await f.store.append([...noise, ...old]);
      t.expect(ids(await f.store.query({ type: "policy.decision", limit: 5 }))).toEqual(ids(old));
      t.expect(
        ids(await f.store.query({ type: "policy.decision", limit: 5, order: "desc" })),
      ).toEqual(ids(old).reverse());
      t.expect(ids(await f.store.query({ type: "policy.decision", limit: 2 }))).toEqual(
        ids(old.slice(0, 2)),
      );
      t.expect(await f.store.query({ limit: 0 })).toHaveLength(0);
    });
  });
}

/** `stream`: every match exactly once, in order, across many pages, and while writes go on. */
export function streamSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: stream`, () => {
    const f = useStore(t, h);

    t.it("streams thousands of events exactly once in order, both directions", async () => {
      const all = makeEvents(4321, (i) => ({ time: timeAt(Math.floor(i / 1000)) }));
      await appendInChunks(f.store, shuffle(all, 7), 1000);
      for (const order of ["asc", "desc"] as const) {
        const seen: string[] = [];
        for await (const e of f.store.stream({ order })) seen.push(e.id);
        t.expect(seen).toEqual(ids(sorted(all, order)));
      }
    });

    t.it("honours limit and cursor", async () => {
      const all = sorted(makeEvents(1500, (i) => ({ time: timeAt(i % 3) })));
      await f.store.append(all);
      const seen: string[] = [];
      for await (const e of f.store.stream({ limit: 1234, after: all[10]!.id })) seen.push(e.id);
      t.expect(seen).toEqual(ids(all.slice(11, 11 + 1234)));
    });

    t.it(
      "does not repeat or lose stored events when new ones arrive during the stream",
      async () => {
        const all = makeEvents(2000, (i) => ({ time: timeAt(i) }));
        await f.store.append(all);
        const seen = new Set<string>();
        let n = 0;
        for await (const e of f.store.stream()) {
          t.expect(seen.has(e.id)).toBe(false);
          seen.add(e.id);
          if (++n === 700)
            await f.store.append(makeEvents(10, (i) => ({ time: timeAt(100_000 + i) })));
        }
        for (const e of all) t.expect(seen.has(e.id)).toBe(true);
      },
    );
  });
}

/** Retention: `prune` by time and by count. */
export function pruneSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: prune`, () => {
    const f = useStore(t, h);

    t.it("deletes events older than `before` and returns how many", async () => {
      const all = makeEvents(100, (i) => ({ time: timeAt(i * 1000) }));
      await f.store.append(shuffle(all));
      t.expect(await f.store.prune({ before: timeAt(40_000) })).toBe(40);
      t.expect(ids(await f.store.query())).toEqual(ids(all.slice(40)));
      t.expect(await f.store.prune({ before: new Date(Date.parse(timeAt(40_000))) })).toBe(0);
      if (h.readRaw) t.expect(await h.readRaw(f.store)).toHaveLength(60);
    });

    t.it("keeps only the newest `keep` events", async () => {
      const all = makeEvents(100, (i) => ({ time: timeAt(Math.floor(i / 10)) }));
      await f.store.append(shuffle(all));
      t.expect(await f.store.prune({ keep: 25 })).toBe(75);
      t.expect(ids(await f.store.query())).toEqual(ids(sorted(all).slice(75)));
    });

    t.it("applies both conditions together", async () => {
      const all = makeEvents(50, (i) => ({ time: timeAt(i * 1000) }));
      await f.store.append(all);
      t.expect(await f.store.prune({ before: timeAt(10_000), keep: 30 })).toBe(20);
      t.expect(await f.store.count()).toBe(30);
    });
  });
}

/** Approvals on top of the store: first resolution wins, even when many race. */
export function approvalsSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: approvals`, () => {
    const f = useStore(t, h);
    const auditorOn = (store: typeof f.store) =>
      new Auditor({ store, spool: false, batch: { maxDelayMs: 1 }, onError: () => {} });

    t.it("lists pending requests, resolves once, and refuses a second resolution", async () => {
      const audit = auditorOn(f.store);
      const run = audit.startRun({ agent: "bot", sessionId: "s" });
      const a1 = run.requestApproval({ action: "refund", reason: "over limit" });
      const a2 = run.requestApproval({ action: "delete" });
      t.expect((await audit.approvals.pending()).map((p) => p.approvalId)).toEqual([a1, a2]);
      const won = await audit.approvals.resolve(a1, {
        outcome: "approve",
        resolvedBy: "alice",
        comment: "ok",
      });
      t.expect(won.data).toMatchObject({ approvalId: a1, outcome: "approve", resolvedBy: "alice" });
      t.expect(won.runId).toBe(run.runId);
      await t
        .expect(audit.approvals.resolve(a1, { outcome: "deny", resolvedBy: "bob" }))
        .rejects.toThrow(ApprovalConflictError);
      const got = await audit.approvals.get(a1);
      t.expect(got.status).toBe("resolved");
      t.expect(got.resolution?.data.resolvedBy).toBe("alice");
      t.expect((await audit.approvals.pending()).map((p) => p.approvalId)).toEqual([a2]);
      await audit.close();
    });

    t.it("lets exactly one of many concurrent resolvers win", async () => {
      const audit = auditorOn(f.store);
      const id = audit.startRun({ agent: "bot" }).requestApproval({ action: "wire" });
      await audit.flush();
      // Separate auditors share nothing but the store, like separate processes.
      const resolvers = Array.from({ length: 8 }, () => auditorOn(f.store));
      const results = await Promise.allSettled(
        resolvers.map((r, i) =>
          r.approvals.resolve(id, {
            outcome: i % 2 ? "deny" : "approve",
            resolvedBy: `human-${i}`,
          }),
        ),
      );
      const winners = results.filter((r) => r.status === "fulfilled");
      t.expect(winners).toHaveLength(1);
      for (const r of results) {
        if (r.status === "rejected") t.expect(r.reason instanceof ApprovalConflictError).toBe(true);
      }
      const stored = await f.store.query({ type: "approval.resolve", approvalId: id });
      t.expect(stored).toHaveLength(1);
      const winner = (winners[0] as PromiseFulfilledResult<AuditEvent>).value;
      t.expect(stored[0]!.data.resolvedBy).toBe(winner.data.resolvedBy);
      await Promise.all([audit.close(), ...resolvers.map((r) => r.close())]);
    });

    t.it("gives a not-found error for an unknown approval", async () => {
      const audit = auditorOn(f.store);
      await t
        .expect(audit.approvals.resolve("no-such-id", { outcome: "approve", resolvedBy: "x" }))
        .rejects.toThrow(ApprovalNotFoundError);
      await t.expect(audit.approvals.get("no-such-id")).rejects.toThrow(ApprovalNotFoundError);
      await audit.close();
    });

    t.it("wakes a waiting agent when a human resolves, and times out otherwise", async () => {
      const agent = auditorOn(f.store);
      const human = auditorOn(f.store);
      const run = agent.startRun({ agent: "bot" });
      const id = run.requestApproval({ action: "refund" });
      const waiting = agent.approvals.wait(id, { timeoutMs: 10_000, pollMs: 50 });
      // The human acts once the request is in the store (wait() flushes it there).
      for (
        let i = 0;
        i < 200 && (await f.store.count({ type: "approval.request", approvalId: id })) === 0;
        i++
      ) {
        await new Promise((r) => setTimeout(r, 25));
      }
      await human.approvals.resolve(id, { outcome: "approve", resolvedBy: "alice" });
      t.expect((await waiting).data.outcome).toBe("approve");
      const other = run.requestApproval({ action: "delete" });
      await t
        .expect(agent.approvals.wait(other, { timeoutMs: 150 }))
        .rejects.toThrow(AuditTimeoutError);
      await Promise.all([agent.close(), human.close()]);
    });
  });
}

/** Close is idempotent, use after close fails cleanly, and persistent stores survive reopening. */
export function lifecycleSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: lifecycle`, () => {
    const f = useStore(t, h);

    t.it("closes idempotently and refuses use after close", async () => {
      await f.store.append(makeEvents(2));
      await f.store.close();
      await f.store.close();
      await t.expect(f.store.append(makeEvents(1))).rejects.toThrow();
      await t.expect(f.store.query()).rejects.toThrow();
    });

    if (h.reopen) {
      const reopen = h.reopen;
      t.it("keeps every event, in order, across close and reopen", async () => {
        const all = makeEvents(1200, (i) => ({ time: timeAt(i % 7) }));
        await appendInChunks(f.store, shuffle(all), 300);
        f.store = await reopen(f.store);
        t.expect(ids(await f.store.query())).toEqual(ids(sorted(all)));
        // Idempotency holds against what an earlier session wrote.
        await f.store.append(all.slice(0, 10));
        t.expect(await f.store.count()).toBe(1200);
      });
    }

    t.it("keeps stored events isolated from the caller's objects", async () => {
      const e = makeEvent({ data: { list: [1] } });
      await f.store.append([e]);
      (e.data.list as number[]).push(2);
      const got = await f.store.get(e.id);
      t.expect(got?.data).toEqual({ list: [1] });
      (got!.data.list as number[]).push(3);
      t.expect((await f.store.get(e.id))?.data).toEqual({ list: [1] });
    });
  });
}

/** Every sub-suite, in the order a failing store is easiest to debug. */
export function runStoreConformance(t: TestApi, harness: StoreHarness): void {
  appendSuite(t, harness);
  badInputSuite(t, harness);
  paginationSuite(t, harness);
  filterSuite(t, harness);
  streamSuite(t, harness);
  pruneSuite(t, harness);
  approvalsSuite(t, harness);
  lifecycleSuite(t, harness);
}
