import { generateKeyPairSync, type KeyObject } from "node:crypto";
import {
  type AuditEvent,
  type AuditExporter,
  Auditor,
  type AuditStore,
  AuditValidationError,
  type ChainProblem,
  type CheckpointData,
  chainInput,
  hashEvent,
  leafHash,
  MerkleFrontier,
  resolutionEventId,
  uuidv7,
  type VerifyReport,
  verifyChain,
} from "@audit/core";
import type { TestApi } from "./harness.js";
import { withCleanup } from "./store-tests.js";

/**
 * What an attacker with write access to the store can do, bypassing the adapter: the raw-write
 * hook an adapter's tests give {@link tamperSuite}. A location is what {@link TamperHarness.create}
 * returned (a file, a directory, a schema).
 */
export interface RawTamper {
  /**
   * True when the store keeps the text it is given byte for byte; false when it re-encodes JSON on
   * write (PostgreSQL's jsonb keeps one value per key and refuses lone surrogates).
   */
  keepsText: boolean;
  /** True when the store can hold bytes that are not UTF-8 (SQLite text, files). */
  holdsBytes: boolean;
  /** The stored text of event `id`. */
  getText(location: string, id: string): Promise<string>;
  /** Replaces the stored text of event `id`, leaving its indexed columns as they were. */
  setText(location: string, id: string, text: string | Uint8Array): Promise<void>;
  /** Swaps the stored texts of two events: two rows' bodies, or two lines of a file. */
  swap(location: string, a: string, b: string): Promise<void>;
  /** Sets the risk column (a level index, 0 = low) of event `id`'s row; absent for files. */
  setRiskColumn?(location: string, id: string, level: number): Promise<void>;
}

/** How the tamper suite gets stores of the adapter under test. */
export interface TamperHarness {
  /** Shown in test names. */
  name: string;
  /** A new, empty location and a store writing there. */
  create(): Promise<{ store: AuditStore; location: string }>;
  /** Opens a location again for reading only (the adapter's `readOnly` option). */
  openReadOnly(location: string): Promise<AuditStore>;
  /** Opens a location again for writing: the attacker's own inserts go through it. */
  openWritable(location: string): Promise<AuditStore>;
  /** A location where no trail exists, and a way to tell whether anything exists there now. */
  missing(): Promise<{ location: string; exists(): Promise<boolean> }>;
  raw: RawTamper;
  /** Removes a location after its test. */
  cleanup?(location: string): Promise<void>;
}

const HMAC_KEY = "tamper-suite-hmac-key-0123456789";

interface Trail {
  location: string;
  events: AuditEvent[];
  denied: string;
  pending: string;
  requestOf: (approvalId: string) => AuditEvent;
  witness: AuditEvent[];
  publicKey: KeyObject;
}

/**
 * Attacks on a stored trail, each of which `verifyChain` must report with its named finding, on
 * trails written with and without an HMAC key, with signed checkpoints, a witness and
 * `requireClosed`: a rewritten or inserted approval resolution, an event recorded to mimic one,
 * swapped rows or lines, a changed indexed column, duplicate keys, `1e400`, invalid UTF-8, lone
 * surrogates, and a store that does not exist.
 */
export function tamperSuite(t: TestApi, h: TamperHarness): void {
  const signing = generateKeyPairSync("ed25519");
  const locations: string[] = [];
  const it = withCleanup(t, async () => {
    for (const l of locations.splice(0)) await h.cleanup?.(l);
  });

  // A closed trail: a run with tool calls, one approval denied, one left pending.
  async function writeTrail(key: string | undefined): Promise<Trail> {
    const { store, location } = await h.create();
    locations.push(location);
    const witness: AuditEvent[] = [];
    const witnessExporter: AuditExporter = {
      id: "witness",
      export: async (events) => {
        for (const e of events) if (e.type === "audit.checkpoint") witness.push(structuredClone(e));
      },
    };
    const audit = new Auditor({
      store,
      spool: false,
      batch: { maxDelayMs: 1 },
      onError: () => {},
      integrity: {
        ...(key !== undefined && { key }),
        signingKey: signing.privateKey,
        witness: witnessExporter,
        checkpointEvery: 4,
      },
    });
    const run = audit.startRun({ agent: "refund-bot", sessionId: "s-1" });
    for (let i = 0; i < 3; i++) {
      await run.tool("lookup", { order: i }, async () => ({ ok: true, i }));
    }
    const denied = run.requestApproval({ action: "refund", reason: "over limit" });
    const pending = run.requestApproval({ action: "wire", reason: "new payee" });
    await audit.flush();
    await audit.approvals.resolve(denied, { outcome: "deny", resolvedBy: "alice" });
    await run.tool("notify", { to: "customer" }, async () => "sent");
    await run.end({ output: "done" });
    await audit.close();
    await store.close();
    const reader = await h.openReadOnly(location);
    const events = await reader.query();
    await reader.close();
    const requestOf = (approvalId: string) =>
      events.find((e) => e.type === "approval.request" && e.data.approvalId === approvalId)!;
    return { location, events, denied, pending, requestOf, witness, publicKey: signing.publicKey };
  }

  async function verify(trail: Trail, key: string | undefined): Promise<VerifyReport> {
    const store = await h.openReadOnly(trail.location);
    try {
      return await verifyChain(store, {
        ...(key !== undefined && { key }),
        publicKey: trail.publicKey,
        witness: trail.witness,
        requireClosed: true,
      });
    } finally {
      await store.close();
    }
  }

  const named = (report: VerifyReport, kind: ChainProblem["kind"]) =>
    report.problems.filter((p) => p.kind === kind).map((p) => p.eventId);
  const kinds = (report: VerifyReport) => [...new Set(report.problems.map((p) => p.kind))];

  for (const key of [undefined, HMAC_KEY]) {
    const keyed = key === undefined ? "without an HMAC key" : "with an HMAC key";

    t.describe(`${h.name}: tampering ${keyed}`, () => {
      it("leaves an untouched trail verifying with every rule on", async () => {
        const trail = await writeTrail(key);
        const report = await verify(trail, key);
        t.expect(report.problems).toEqual([]);
        t.expect(report.ok).toBe(true);
        t.expect(report.events).toBe(trail.events.length);
      });

      it("finds a resolution rewritten from deny to approve (hash-mismatch)", async () => {
        const trail = await writeTrail(key);
        const id = resolutionEventId(trail.denied);
        const text = await h.raw.getText(trail.location, id);
        t.expect(text).toContain('"deny"');
        await h.raw.setText(trail.location, id, text.replace('"deny"', '"approve"'));
        const report = await verify(trail, key);
        t.expect(report.ok).toBe(false);
        t.expect(named(report, "hash-mismatch")).toContain(id);
      });

      it("finds a resolution rewritten with every hash after it recomputed (bad-signature, checkpoint-mismatch)", async () => {
        const trail = await writeTrail(key);
        const id = resolutionEventId(trail.denied);
        const changed = rechain(trail.events, id, (e) => {
          e.data.outcome = "approve";
        });
        for (const e of changed) await h.raw.setText(trail.location, e.id, JSON.stringify(e));
        const report = await verify(trail, key);
        t.expect(report.ok).toBe(false);
        // The signed checkpoints after it no longer verify, and the witness remembers the old heads.
        t.expect(kinds(report)).toContain("bad-signature");
        t.expect(kinds(report)).toContain("checkpoint-mismatch");
        if (key !== undefined) t.expect(kinds(report)).toContain("hash-mismatch");
      });

      it("finds a resolution inserted for a pending approval (unclosed, or hash-mismatch)", async () => {
        const trail = await writeTrail(key);
        const request = trail.requestOf(trail.pending);
        const forged: AuditEvent = {
          id: resolutionEventId(trail.pending),
          type: "approval.resolve",
          time: new Date(Date.parse(request.time) + 1).toISOString(),
          actor: "mallory",
          risk: "high",
          data: { approvalId: trail.pending, outcome: "approve", resolvedBy: "mallory" },
          chain: { id: uuidv7(), seq: 1, prev: "", hash: "" },
        };
        forged.chain!.hash = hashEvent(forged);
        await appendRaw(h, trail.location, forged);
        const report = await verify(trail, key);
        t.expect(report.ok).toBe(false);
        // Without the key the forged chain's hash holds, but nobody can sign its closing checkpoint.
        t.expect(named(report, "unclosed")).toContain(forged.id);
        if (key !== undefined) t.expect(named(report, "hash-mismatch")).toContain(forged.id);
      });

      it("finds resolutions not bound to a request (unbound-resolution)", async () => {
        const trail = await writeTrail(key);
        const request = trail.requestOf(trail.pending);
        const make = (approvalId: string, time: string): AuditEvent => {
          const e: AuditEvent = {
            id: resolutionEventId(approvalId),
            type: "approval.resolve",
            time,
            data: { approvalId, outcome: "approve", resolvedBy: "mallory" },
            chain: { id: uuidv7(), seq: 1, prev: "", hash: "" },
          };
          e.chain!.hash = hashEvent(e, key);
          return e;
        };
        // Dated before its request, and resolving an approval nobody asked for.
        const early = make(trail.pending, new Date(Date.parse(request.time) - 1).toISOString());
        const orphan = make(uuidv7(), request.time);
        await appendRaw(h, trail.location, early);
        await appendRaw(h, trail.location, orphan);
        const report = await verify(trail, key);
        t.expect(named(report, "unbound-resolution")).toContain(early.id);
        t.expect(named(report, "unbound-resolution")).toContain(orphan.id);
      });

      it("refuses an event recorded to mimic a resolution", async () => {
        const { store, location } = await h.create();
        locations.push(location);
        const audit = new Auditor({
          store,
          spool: false,
          onError: () => {},
          ...(key !== undefined && { integrity: { key } }),
        });
        const approvalId = uuidv7();
        t.expect(() =>
          audit.record({
            type: "approval.resolve",
            data: { approvalId, outcome: "approve", resolvedBy: "mallory" },
          }),
        ).toThrow(AuditValidationError);
        t.expect(() =>
          audit.record({
            id: resolutionEventId(approvalId),
            type: "tool.end",
            data: { tool: "approve", callId: approvalId, durationMs: 1 },
          }),
        ).toThrow(AuditValidationError);
        await audit.close();
        t.expect(await store.get(resolutionEventId(approvalId))).toBeUndefined();
        await store.close();
      });

      it("finds two stored events swapped (store-order)", async () => {
        const trail = await writeTrail(key);
        const tools = trail.events.filter((e) => e.type === "tool.start");
        const [a, b] = [tools[0]!, tools[1]!];
        await h.raw.swap(trail.location, a.id, b.id);
        const report = await verify(trail, key);
        t.expect(report.ok).toBe(false);
        t.expect(named(report, "store-order")).toContain(a.id);
        if (h.raw.setRiskColumn) t.expect(named(report, "column-mismatch")).toContain(a.id);
      });

      if (h.raw.setRiskColumn) {
        it("finds a risk column changed under its body (column-mismatch)", async () => {
          const trail = await writeTrail(key);
          const request = trail.requestOf(trail.pending);
          await h.raw.setRiskColumn!(trail.location, request.id, 0);
          const store = await h.openReadOnly(trail.location);
          // What the attack buys: the request no longer shows among high-risk events.
          const high = await store.query({ risk: "high", type: "approval.request" });
          await store.close();
          t.expect(high.map((e) => e.id)).not.toContain(request.id);
          const report = await verify(trail, key);
          t.expect(named(report, "column-mismatch")).toContain(request.id);
          t.expect(kinds(report)).toEqual(["column-mismatch"]);
        });
      } else {
        it("finds a risk changed in a stored line (hash-mismatch): files have no columns", async () => {
          const trail = await writeTrail(key);
          const request = trail.requestOf(trail.pending);
          const text = await h.raw.getText(trail.location, request.id);
          await h.raw.setText(
            trail.location,
            request.id,
            text.replace('"risk":"high"', '"risk":"low"'),
          );
          const report = await verify(trail, key);
          t.expect(named(report, "hash-mismatch")).toContain(request.id);
        });
      }

      it("finds a duplicate key in stored text (non-strict-json)", async () => {
        const trail = await writeTrail(key);
        const request = trail.requestOf(trail.pending);
        const text = await h.raw.getText(trail.location, request.id);
        // The first "action" is what a SQL filter may see; the last is what the hash covers.
        const forged = text.replace(/"data":\s*\{/, '"data":{"action":"refund-all",');
        await h.raw.setText(trail.location, request.id, forged);
        const report = await verify(trail, key);
        if (h.raw.keepsText) {
          t.expect(named(report, "non-strict-json")).toContain(request.id);
          t.expect(named(report, "hash-mismatch")).not.toContain(request.id);
        } else {
          // The store parsed the text on write and kept one value: every reader sees the same event.
          const store = await h.openReadOnly(trail.location);
          const stored = await store.get(request.id);
          await store.close();
          t.expect(stored?.data.action).toBe(request.data.action);
          t.expect(report.ok).toBe(true);
        }
      });

      it("finds a number beyond a double's range, 1e400 (non-strict-json)", async () => {
        const trail = await writeTrail(key);
        const request = trail.requestOf(trail.pending);
        const text = await h.raw.getText(trail.location, request.id);
        await h.raw.setText(
          trail.location,
          request.id,
          text.replace(/"data":\s*\{/, '"data":{"amount":1e400,'),
        );
        const report = await verify(trail, key);
        t.expect(named(report, "non-strict-json")).toContain(request.id);
      });

      if (h.raw.keepsText) {
        it("finds a lone surrogate in stored text (non-strict-json)", async () => {
          const trail = await writeTrail(key);
          const request = trail.requestOf(trail.pending);
          const text = await h.raw.getText(trail.location, request.id);
          await h.raw.setText(
            trail.location,
            request.id,
            text.replace(/"data":\s*\{/, '"data":{"note":"\\ud800",'),
          );
          const report = await verify(trail, key);
          t.expect(named(report, "non-strict-json")).toContain(request.id);
        });
      }

      if (h.raw.holdsBytes) {
        it("finds stored bytes that are not UTF-8 (non-strict-json)", async () => {
          const trail = await writeTrail(key);
          const request = trail.requestOf(trail.pending);
          const text = await h.raw.getText(trail.location, request.id);
          const bytes = Buffer.from(text, "utf8");
          const at = bytes.indexOf(Buffer.from('"wire"'));
          t.expect(at).toBeGreaterThan(0);
          bytes[at + 1] = 0xff;
          await h.raw.setText(trail.location, request.id, bytes);
          const report = await verify(trail, key);
          t.expect(named(report, "non-strict-json")).toContain(request.id);
        });
      }
    });
  }

  t.describe(`${h.name}: verifying a store that is not there`, () => {
    it("fails with a clear error and creates nothing", async () => {
      const missing = await h.missing();
      let error: unknown;
      try {
        const store = await h.openReadOnly(missing.location);
        try {
          await verifyChain(store);
        } finally {
          await store.close().catch(() => undefined);
        }
      } catch (err) {
        error = err;
      }
      t.expect((error as { code?: string } | undefined)?.code).toBe("AUDIT_STORE_MISSING");
      t.expect(await missing.exists()).toBe(false);
    });
  });
}

// An attacker's own insert, through a writable store at the location (as a raw INSERT would be);
// then the stored text is made exactly the attacker's.
async function appendRaw(h: TamperHarness, location: string, event: AuditEvent): Promise<void> {
  const store = await h.openWritable(location);
  try {
    await store.append([event]);
  } finally {
    await store.close();
  }
  if (h.raw.keepsText) await h.raw.setText(location, event.id, JSON.stringify(event));
}

/**
 * What an attacker without the HMAC key can do to a plain SHA-256 chain: change one event, then
 * recompute the hash of every later event of its chain and the head hash and Merkle root of every
 * later checkpoint. Signatures cannot be recomputed without the signing key. Returns the events
 * that changed.
 */
function rechain(
  events: readonly AuditEvent[],
  targetId: string,
  change: (e: AuditEvent) => void,
): AuditEvent[] {
  const target = events.find((e) => e.id === targetId)!;
  const chain = events
    .filter((e) => e.chain?.id === target.chain!.id)
    .map((e) => structuredClone(e))
    .sort((a, b) => a.chain!.seq - b.chain!.seq);
  const tree = new MerkleFrontier();
  const changed: AuditEvent[] = [];
  let prev = "";
  let dirty = false;
  for (const e of chain) {
    if (e.id === targetId) {
      change(e);
      dirty = true;
    }
    if (dirty) {
      e.chain!.prev = prev;
      if (e.type === "audit.checkpoint") {
        const d = e.data as unknown as CheckpointData;
        d.hash = prev;
        if (d.root !== undefined) d.root = tree.root().toString("hex");
      }
      e.chain!.hash = hashEvent(e);
      changed.push(e);
    }
    tree.push(leafHash(chainInput(e)));
    prev = e.chain!.hash;
  }
  return changed;
}
