import type { AuditEvent, AuditFilter } from "@audit/core";
import { ids, makeEvent, makeEvents, shuffle, sorted, timeAt } from "../events.js";
import type { Fixture, StoreHarness, TestApi } from "../harness.js";
import { storeTests } from "../store-tests.js";

/** Every filter, alone and combined, with `limit` applied after the filter. */
export function filterSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: filters`, () => {
    const test = storeTests(t, h);
    let all: AuditEvent[] = [];

    const seed = async (f: Fixture) => {
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

    const check = async (f: Fixture, filter: AuditFilter, pick: (e: AuditEvent) => boolean) => {
      const want = ids(sorted(all.filter(pick)));
      t.expect(ids(await f.store.query(filter))).toEqual(want);
      t.expect(await f.store.count(filter)).toBe(want.length);
      const streamed: string[] = [];
      for await (const e of f.store.stream(filter)) streamed.push(e.id);
      t.expect(streamed).toEqual(want);
    };

    test("filters by exact type, a list of types, and a prefix pattern", async (f) => {
      await seed(f);
      await check(f, { type: "tool.start" }, (e) => e.type === "tool.start");
      await check(
        f,
        { type: ["run.start", "tool.end"] },
        (e) => e.type === "run.start" || e.type === "tool.end",
      );
      // "tool.*" must not match "toolbox.open".
      await check(f, { type: "tool.*" }, (e) => e.type.startsWith("tool."));
      await check(
        f,
        { type: ["approval.*", "run.start"] },
        (e) => e.type.startsWith("approval.") || e.type === "run.start",
      );
      await check(f, { type: "*" }, () => true);
      await check(f, { type: "nothing.here" }, () => false);
    });

    test("filters by actor, session, run and approval id", async (f) => {
      await seed(f);
      await check(f, { actor: "a" }, (e) => e.actor === "a");
      await check(f, { sessionId: "s2" }, (e) => e.sessionId === "s2");
      await check(f, { runId: "r1" }, (e) => e.runId === "r1");
      await check(f, { approvalId: "ap-1" }, (e) => e.data.approvalId === "ap-1");
      await check(
        f,
        { sessionId: "s2", actor: "b" },
        (e) => e.sessionId === "s2" && e.actor === "b",
      );
    });

    test("filters by risk as this level and above", async (f) => {
      await seed(f);
      const rank = { low: 0, medium: 1, high: 2, critical: 3 };
      await check(f, { risk: "low" }, (e) => e.risk !== undefined);
      await check(f, { risk: "high" }, (e) => e.risk !== undefined && rank[e.risk] >= 2);
      await check(f, { risk: "critical" }, (e) => e.risk === "critical");
    });

    test("filters by time: since inclusive, until exclusive, absolute and relative", async (f) => {
      const now = await seed(f);
      const third = sorted(all)[2]!;
      await check(f, { since: third.time }, (e) => e.time >= third.time);
      await check(f, { until: third.time }, (e) => e.time < third.time);
      await check(
        f,
        { since: new Date(third.time), until: new Date(now) },
        (e) => e.time >= third.time && e.time < new Date(now).toISOString(),
      );
      const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
      const got = ids(await f.store.query({ since: "1h" }));
      // Relative times resolve at query time; every event newer than an hour before the query.
      t.expect(got).toEqual(ids(sorted(all.filter((e) => e.time >= hourAgo))));
      t.expect(got.length).toBe(5);
    });

    test("filters by top-level payload equality of strings, numbers and booleans", async (f) => {
      await seed(f);
      await check(f, { data: { tool: "search" } }, (e) => e.data.tool === "search");
      await check(f, { data: { n: 2 } }, (e) => e.data.n === 2);
      await check(f, { data: { ok: false } }, (e) => e.data.ok === false);
      await check(
        f,
        { data: { tool: "search", n: 1 } },
        (e) => e.data.tool === "search" && e.data.n === 1,
      );
      await check(f, { data: { n: "2" } }, () => false);
    });

    test("applies limit after the filter, so older matches are never hidden", async (f) => {
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
