import { describe, expect, it } from "vitest";
import {
  type AuditEvent,
  Auditor,
  type CheckpointData,
  MemoryStore,
  RISK_LEVELS,
  resolutionEventId,
  type StoredRow,
  type VerifyReport,
  verifyChain,
} from "../src/index.js";
import { compareEvents } from "../src/store-kit/index.js";

/**
 * A MemoryStore that also offers `storedRows`, from rows the test controls: the shape of a SQL
 * store's rows (text and columns), so the rules that only `storedRows` enables run against a real
 * MemoryStore's reads.
 */
class RowStore extends MemoryStore {
  rows: StoredRow[];

  constructor(events: AuditEvent[]) {
    super({ maxEvents: 1_000_000 });
    this.rows = [...events].sort(compareEvents).map((e, i) => ({
      location: `row ${i + 1}`,
      text: JSON.stringify(e),
      columns: {
        id: e.id,
        time: e.time,
        type: e.type,
        actor: e.actor ?? null,
        riskLevel: e.risk === undefined ? null : RISK_LEVELS.indexOf(e.risk),
        chainId: e.chain?.id ?? null,
        chainSeq: e.chain?.seq ?? null,
      },
    }));
  }

  async *storedRows(): AsyncIterable<StoredRow> {
    yield* this.rows;
  }
}

/** A RowStore holding `events`: reads see them; `storedRows` gives its rows. */
async function rowStore(events: AuditEvent[]): Promise<RowStore> {
  const store = new RowStore(events);
  await store.append(events);
  return store;
}

async function storeOf(events: AuditEvent[]): Promise<MemoryStore> {
  const store = new MemoryStore({ maxEvents: 1_000_000 });
  await store.append(events);
  return store;
}

async function trail(): Promise<{ events: AuditEvent[]; approvalId: string }> {
  const store = new MemoryStore({ maxEvents: 1_000_000 });
  const audit = new Auditor({ store, spool: false, integrity: { checkpointEvery: 3 } });
  const run = audit.startRun({ agent: "bot" });
  for (let i = 0; i < 5; i++) run.policy({ policy: "p", decision: "allow", rule: `r${i}` });
  const approvalId = run.requestApproval({ action: "refund" });
  await audit.approvals.resolve(approvalId, { outcome: "deny", resolvedBy: "alice" });
  await run.end();
  await audit.close();
  return { events: await store.query(), approvalId };
}

const named = (r: VerifyReport, kind: string) =>
  r.problems.filter((p) => p.kind === kind).map((p) => p.eventId);

describe("verify through storedRows", () => {
  it("verifies an untouched trail read row by row", async () => {
    const { events } = await trail();
    const report = await verifyChain(await rowStore(events), { requireClosed: true });
    expect(report.problems).toEqual([]);
    expect(report.events).toBe(events.length);
  });

  it("names the row of a column that differs from the body", async () => {
    const { events } = await trail();
    const store = await rowStore(events);
    const victim = store.rows[3]!;
    victim.columns!.type = "tool.start";
    const report = await verifyChain(store);
    expect(report.problems).toEqual([
      expect.objectContaining({
        kind: "column-mismatch",
        eventId: victim.columns!.id,
        location: "row 4",
        message: expect.stringContaining("column type"),
      }),
    ]);
  });

  it("warns of columns it does not know and of rows that are not events", async () => {
    const { events } = await trail();
    const store = await rowStore(events);
    (store.rows[0]!.columns as Record<string, unknown>).shard = 3;
    const torn = store.rows[4]!;
    torn.text = (torn.text as string).slice(0, 40);
    const report = await verifyChain(store);
    expect(report.warnings).toContainEqual(
      expect.objectContaining({
        kind: "column-mismatch",
        message: expect.stringContaining("shard"),
      }),
    );
    expect(report.warnings).toContainEqual(
      expect.objectContaining({ kind: "unreadable", location: "row 5", eventId: torn.columns!.id }),
    );
    // What the torn row held is missing from its chain.
    expect(report.problems.map((p) => p.kind)).toContain("gap");
  });

  it("skips a row stored twice side by side, as reads do", async () => {
    const { events } = await trail();
    const store = await rowStore(events);
    store.rows.splice(3, 0, { ...store.rows[3]!, location: "row 4 again" });
    const report = await verifyChain(store);
    expect(report.problems).toEqual([]);
    expect(report.events).toBe(events.length);
  });
});

describe("approval binding", () => {
  it("reports a second resolution of one approval", async () => {
    const { events, approvalId } = await trail();
    const store = await rowStore(events);
    const at = store.rows.findIndex((r) => r.columns!.id === resolutionEventId(approvalId));
    const second = JSON.parse(store.rows[at]!.text as string) as AuditEvent;
    second.data.outcome = "approve";
    store.rows.splice(at + 1, 0, { ...store.rows[at]!, text: JSON.stringify(second) });
    const report = await verifyChain(store);
    expect(named(report, "unbound-resolution")).toEqual([second.id]);
    expect(report.problems.find((p) => p.kind === "unbound-resolution")?.message).toContain(
      "already resolved",
    );
  });

  it("reports a resolution dated before its request", async () => {
    const { events, approvalId } = await trail();
    const request = events.find((e) => e.type === "approval.request")!;
    const resolution = events.find((e) => e.id === resolutionEventId(approvalId))!;
    resolution.time = new Date(Date.parse(request.time) - 5).toISOString();
    const report = await verifyChain(await storeOf(events));
    expect(named(report, "unbound-resolution")).toContain(resolution.id);
  });

  it("takes a missing request after a prune as a warning", async () => {
    const store = new MemoryStore({ maxEvents: 1_000_000 });
    const audit = new Auditor({ store, spool: false });
    const run = audit.startRun({ agent: "bot" });
    const approvalId = run.requestApproval({ action: "refund" });
    await audit.flush();
    await new Promise((r) => setTimeout(r, 5));
    await audit.approvals.resolve(approvalId, { outcome: "approve", resolvedBy: "alice" });
    const resolution = await store.get(resolutionEventId(approvalId));
    await audit.prune({ before: resolution!.time });
    await run.end();
    await audit.close();
    const report = await verifyChain(store);
    expect(named(report, "unbound-resolution")).toEqual([]);
    expect(report.warnings.map((w) => w.kind)).toContain("unbound-resolution");
  });
});

describe("Merkle roots", () => {
  it("reports a witness checkpoint whose root differs, named to the checkpoint", async () => {
    const { events } = await trail();
    const checkpoint = structuredClone(events.find((e) => e.type === "audit.checkpoint")!);
    const d = checkpoint.data as unknown as CheckpointData;
    d.root = "00".repeat(32);
    const report = await verifyChain(await storeOf(events), { witness: [checkpoint] });
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: "root-mismatch", eventId: checkpoint.id, seq: d.seq }),
    ]);
  });
});
