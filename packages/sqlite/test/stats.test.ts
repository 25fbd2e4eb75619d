import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditFilter, AuditStore } from "@audit/core";
import { trailStats } from "@audit/core/store-kit";
import { makeEvents, timeAt } from "@audit/test-suite";
import { afterAll, describe, expect, it } from "vitest";
import { createStoreFromUrl, SqliteStore } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "audit-sqlite-stats-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The same store seen without its `stats`: what trailStats computes by streaming every event.
const streamed = (store: AuditStore): AuditStore =>
  ({ ...store, stats: undefined, stream: store.stream.bind(store) }) as AuditStore;

describe("stats", () => {
  it("counts by type, actor and risk with GROUP BY, as streaming every event would", async () => {
    const store = new SqliteStore({ filename: join(dir, "stats.db") });
    const risks = [undefined, "low", "medium", "high", "critical"] as const;
    await store.append(
      makeEvents(3000, (i) => ({
        time: timeAt(i * 7),
        type: ["tool.start", "tool.end", "llm.end", "policy.decision"][i % 4]!,
        ...(i % 5 !== 0 && { actor: `agent-${i % 3}` }),
        ...(risks[i % 5] !== undefined && { risk: risks[i % 5] }),
        sessionId: `s-${i % 4}`,
        data: { n: i % 2 },
      })),
    );
    const filters: AuditFilter[] = [
      {},
      { type: "tool.*" },
      { risk: "medium", sessionId: "s-1" },
      { since: timeAt(7000), until: timeAt(14000), actor: "agent-2" },
      { data: { n: 1 } },
      { type: "no.such" },
    ];
    for (const filter of filters) {
      const grouped = await store.stats(filter);
      expect(grouped, JSON.stringify(filter)).toEqual(await trailStats(streamed(store), filter));
    }
    const all = await store.stats();
    expect(all.total).toBe(3000);
    expect(all.byRisk["(none)"]?.count).toBe(600);
    expect(all.byActor["(none)"]).toEqual({ count: 600, first: timeAt(0), last: timeAt(2995 * 7) });
    expect(Object.keys(all.byRisk).sort()).toEqual(["(none)", "critical", "high", "low", "medium"]);
    // A limit or a cursor is not part of a stats filter.
    expect(await store.stats({ limit: 1 })).toEqual(all);
    await store.close();
  });
});

describe("describe", () => {
  it("says what and where the store is, without a secret from its path", async () => {
    const file = join(dir, "token=hunter2-secret", "audit.db");
    mkdirSync(join(dir, "token=hunter2-secret"));
    const store = new SqliteStore({ filename: file });
    const d = store.describe();
    expect(d).toMatchObject({
      id: "sqlite",
      readOnly: false,
      capabilities: { persistent: true, multiProcess: true, subscribe: true },
    });
    expect(d.location).not.toContain("hunter2-secret");
    expect(d.location.startsWith(dir)).toBe(true);
    await store.close();
    const reader = createStoreFromUrl(`sqlite:${file}?readOnly=true`);
    expect(reader.describe().readOnly).toBe(true);
    await reader.close();
  });
});
