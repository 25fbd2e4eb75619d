import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type AuditEvent,
  type AuditExporter,
  Auditor,
  MemoryStore,
  PrivacyFilter,
  uuidv7,
  verifyChain,
} from "../src/index.js";
import { SwitchableStore, tempDir } from "./helpers.js";
import {
  CHECKPOINT_SIGNATURE,
  CORPUS,
  envelopeCorpus,
  LOOK_ALIKES,
  leakedMarkers,
  lostLookAlikes,
  recordCorpus,
} from "./privacy-corpus.js";

/** Every byte of every file under `dir`. */
function filesText(dir: string): string {
  let text = "";
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    text += statSync(path).isDirectory() ? filesText(path) : readFileSync(path, "latin1");
  }
  return text;
}

function exporterTo(out: string[]): AuditExporter {
  return {
    id: "capture",
    async export(batch) {
      out.push(JSON.stringify(batch));
    },
  };
}

const now = () => {
  const id = uuidv7();
  return { id, time: new Date().toISOString() };
};

describe("the secret corpus", () => {
  it("has more than 60 secrets, each marker unique", () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(CORPUS.map((s) => s.marker)).size).toBe(CORPUS.length);
  });

  it("leaves no marker in the store or an exporter, keeps every look-alike, and the chain verifies", async () => {
    const store = new MemoryStore();
    const exported: string[] = [];
    const audit = new Auditor({
      store,
      spool: false,
      exporters: [exporterTo(exported)],
      privacy: { captureContent: true },
    });
    await recordCorpus(audit);
    await audit.close();
    const stored = JSON.stringify(await store.query());
    // Every standard type is in the trail (the reserved approval.resolve and audit.checkpoint too).
    const types = new Set((await store.query()).map((e) => e.type));
    for (const t of [
      "run.start",
      "run.end",
      "tool.start",
      "tool.end",
      "tool.error",
      "llm.end",
      "policy.decision",
      "action",
      "error",
      "approval.request",
      "approval.resolve",
      "audit.checkpoint",
      "custom.note",
    ])
      expect(types).toContain(t);
    expect(leakedMarkers(stored).map((s) => s.where)).toEqual([]);
    expect(leakedMarkers(exported.join("\n")).map((s) => s.where)).toEqual([]);
    expect(lostLookAlikes(stored)).toEqual([]);
    expect((await verifyChain(store)).ok).toBe(true);
  });

  it("leaves no marker in the spool while the store is down", async () => {
    const spool = tempDir();
    const store = new SwitchableStore();
    store.down = true;
    const audit = new Auditor({
      store,
      spool,
      retry: { attempts: 1, initialDelayMs: 1 },
      privacy: { captureContent: true },
      onError: () => undefined,
    });
    await recordCorpus(audit).catch(() => undefined);
    await audit.close();
    const raw = filesText(spool);
    expect(raw.length).toBeGreaterThan(1000);
    expect(leakedMarkers(raw).map((s) => s.where)).toEqual([]);
  });

  it("scrubs envelope fields and reserved checkpoint events through PrivacyFilter.apply, keeping integrity fields", () => {
    const filter = new PrivacyFilter();
    const events = envelopeCorpus(now).map((e) => filter.apply(e as AuditEvent));
    const text = JSON.stringify(events);
    expect(leakedMarkers(text).map((s) => s.where)).toEqual([]);
    const checkpoint = events[1]!;
    expect(checkpoint.data.signature).toBe(CHECKPOINT_SIGNATURE);
    expect(checkpoint.data.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(checkpoint.data.chainId).toBe(LOOK_ALIKES[0]);
    expect(events[0]!.data).toEqual({ tool: "x", callId: "c1", args: { q: LOOK_ALIKES[0] } });
  });

  it("keys-only and hashed leave no error message or stack in clear", async () => {
    for (const mode of ["keys-only", "hashed", "none"] as const) {
      const store = new MemoryStore();
      const audit = new Auditor({
        store,
        spool: false,
        privacy: { mode, key: "corpus-key-0123456789" },
      });
      const run = audit.startRun({ agent: "bot" });
      await run
        .tool("t", {}, () => {
          throw new Error("customer alice@example.com not found");
        })
        .catch(() => undefined);
      run.error(new Error("cannot charge card 4111 1111 1111 1111"));
      await run.fail(new Error("order 991 of bob@example.com failed"));
      await audit.close();
      const text = JSON.stringify(await store.query());
      expect(text, mode).not.toContain("alice@example.com");
      expect(text, mode).not.toContain("4111 1111");
      expect(text, mode).not.toContain("bob@example.com");
      expect(text, mode).not.toContain("at ");
    }
  });
});
