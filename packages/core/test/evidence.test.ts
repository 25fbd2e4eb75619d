import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  Auditor,
  buildEvidenceBundle,
  type EvidenceBundle,
  MemoryStore,
  noteVerifierKey,
  verifyEvidenceBundle,
} from "../src/index.js";

const KEY = "evidence-test-key-0123456789";

/** A trail with two runs written by two auditors (one keyed), all checkpoints signed. */
async function trail(options: { closeSecond?: boolean } = {}) {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const store = new MemoryStore();
  const integrity = {
    signingKey: privateKey,
    signingKeyName: "example.org/audit",
    checkpointEvery: 7,
  };
  const a = new Auditor({ store, spool: false, actor: "a", integrity });
  const b = new Auditor({ store, spool: false, actor: "b", integrity: { ...integrity, key: KEY } });
  const run = a.startRun({ agent: "refunds" });
  const other = b.startRun({ agent: "other" });
  for (let i = 0; i < 20; i++) {
    a.record({ type: "filler.a", data: { i } });
    b.record({ type: "filler.b", data: { i } });
    if (i % 5 === 0) {
      await run.tool("lookup", { i }, async () => ({ ok: i }));
      await other.tool("lookup", { i }, async () => ({ ok: i }));
    }
  }
  const approvalId = run.requestApproval({ action: "refund" });
  await a.flush();
  // The resolution is written by the other auditor, in its keyed chain.
  await b.approvals.resolve(approvalId, { outcome: "approve", resolvedBy: "alice" });
  await run.end({ output: "done" });
  await other.end();
  await a.close();
  if (options.closeSecond !== false) await b.close();
  return { store, publicKey, privateKey, runId: run.runId, otherRunId: other.runId, b };
}

const kinds = (b: unknown, opts = {}) => verifyEvidenceBundle(b, opts).problems.map((p) => p.kind);

describe("evidence bundles", () => {
  it("prove every event of a run, across two chains, against signed checkpoint roots", async () => {
    const { store, publicKey, runId } = await trail();
    const bundle = await buildEvidenceBundle(store, runId, { publicKey });
    const runEvents = await store.query({ runId, limit: 10_000 });
    expect(bundle.entries.map((e) => e.event.id)).toEqual(runEvents.map((e) => e.id));
    expect(new Set(bundle.entries.map((e) => e.event.chain!.id)).size).toBe(2);
    expect(bundle.entries.some((e) => e.event.type === "approval.resolve")).toBe(true);
    expect(bundle.publicKey.verifierKey).toBe(noteVerifierKey("example.org/audit", publicKey));
    for (const e of bundle.entries) {
      const cp = bundle.checkpoints.find((c) => c.eventId === e.checkpoint)!;
      expect(cp.data.chainId).toBe(e.event.chain!.id);
      expect(cp.data.seq).toBeGreaterThanOrEqual(e.event.chain!.seq);
      // The first covering checkpoint: with one every 7 events, none below is at or past the seq.
      expect(cp.data.seq - e.event.chain!.seq).toBeLessThan(8);
    }
    const report = verifyEvidenceBundle(JSON.parse(JSON.stringify(bundle)), { publicKey });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.events).toBe(runEvents.length);
    // The keyed chain's hashes are checked only with its key; the proofs always are.
    expect(report.warnings.join(" ")).toMatch(/HMAC/);
    expect(verifyEvidenceBundle(bundle, { publicKey, key: KEY }).warnings).toEqual([]);
    // Without a trusted key the bundle's own key is used, and the report says so.
    const selfKeyed = verifyEvidenceBundle(bundle);
    expect(selfKeyed.ok).toBe(true);
    expect(selfKeyed.warnings.join(" ")).toMatch(/no trusted public key/);
  });

  it("each kind of tampering is named", async () => {
    const { store, publicKey, runId, otherRunId } = await trail();
    const good = await buildEvidenceBundle(store, runId, { publicKey });
    const copy = (): EvidenceBundle => JSON.parse(JSON.stringify(good));
    const plainIndex = good.entries.findIndex((e) => e.event.type === "run.start");

    let b = copy();
    b.entries[plainIndex]!.event.data.agent = "forged";
    expect(kinds(b, { publicKey })).toEqual(["leaf-mismatch", "hash-mismatch", "bad-proof"]);

    b = copy();
    b.entries[1]!.proof[0] = "00".repeat(32);
    expect(kinds(b, { publicKey })).toEqual(["bad-proof"]);

    b = copy();
    b.entries[1]!.index += 1;
    expect(kinds(b, { publicKey })).toEqual(["bad-proof"]);

    b = copy();
    b.entries[1]!.leaf = "11".repeat(32);
    expect(kinds(b, { publicKey })).toEqual(["leaf-mismatch"]);

    b = copy();
    b.checkpoints[0]!.data.root = "22".repeat(32);
    expect(kinds(b, { publicKey })).toContain("bad-signature");

    b = copy();
    delete b.checkpoints[0]!.data.note;
    expect(kinds(b, { publicKey })).toContain("unsigned-checkpoint");

    b = copy();
    b.checkpoints.splice(0, 1);
    expect(kinds(b, { publicKey })).toContain("missing-checkpoint");

    const foreign = await buildEvidenceBundle(store, otherRunId, { publicKey });
    b = copy();
    b.entries.push(foreign.entries[0]!);
    b.checkpoints.push(...foreign.checkpoints);
    expect(kinds(b, { publicKey })).toEqual(["wrong-run"]);

    const stranger = generateKeyPairSync("ed25519").publicKey;
    expect(kinds(good, { publicKey: stranger })).toContain("key-mismatch");
    b = copy();
    b.publicKey.verifierKey = noteVerifierKey("example.org/audit", stranger);
    expect(kinds(b, { publicKey })).toEqual(["key-mismatch"]);

    expect(kinds({ format: "something else" })).toEqual(["malformed"]);
    expect(kinds("not even an object")).toEqual(["malformed"]);
    b = copy();
    (b.entries[0] as unknown as Record<string, unknown>).proof = "not a list";
    expect(kinds(b, { publicKey })).toEqual(["malformed"]);

    // A keyed chain's event modified: with the key its hash is checked too.
    b = copy();
    const keyed = b.entries.findIndex((e) => e.event.type === "approval.resolve");
    b.entries[keyed]!.event.data.outcome = "deny";
    expect(kinds(b, { publicKey })).toEqual(["leaf-mismatch", "bad-proof"]);
    expect(kinds(b, { publicKey, key: KEY })).toEqual([
      "leaf-mismatch",
      "hash-mismatch",
      "bad-proof",
    ]);
  });

  it("refuses, with a clear error, a run it cannot prove", async () => {
    const { store, publicKey, otherRunId, b } = await trail({ closeSecond: false });
    // The second auditor is still open: the tail of its run is covered by no checkpoint yet.
    await expect(buildEvidenceBundle(store, otherRunId, { publicKey })).rejects.toThrow(
      /not covered by a checkpoint signed with this key/,
    );
    await expect(buildEvidenceBundle(store, "no-such-run", { publicKey })).rejects.toThrow(
      /no event of run no-such-run/,
    );
    await b.close();
    const stranger = generateKeyPairSync("ed25519").publicKey;
    const { store: s2, runId } = await trail();
    await expect(buildEvidenceBundle(s2, runId, { publicKey: stranger })).rejects.toThrow(
      /not covered by a checkpoint signed with this key/,
    );
  });

  it("refuses a store whose chain does not give the signed root", async () => {
    const { store, publicKey, runId } = await trail();
    const events = await store.query({ limit: 100_000 });
    // Rewrite one covered event (not of the run) in a copy of the store.
    const victim = events.find((e) => e.type === "filler.a")!;
    const tampered = new MemoryStore();
    await tampered.append(events.map((e) => (e.id === victim.id ? { ...e, data: { i: 999 } } : e)));
    await expect(buildEvidenceBundle(tampered, runId, { publicKey })).rejects.toThrow(
      /do not give the root/,
    );
  });
});
