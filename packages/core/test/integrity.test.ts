import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type AuditEvent,
  type AuditExporter,
  Auditor,
  type AuditorInit,
  type ChainProblemKind,
  type CheckpointData,
  canonicalJson,
  chainInput,
  hashEvent,
  MemoryStore,
  signCheckpoint,
  verifyChain,
} from "../src/index.js";

const KEY = "0123456789abcdef0123456789abcdef";

/** Records `perChain` events from each of `chains` auditors into one store, then closes them. */
async function trail(chains: number, perChain: number, options: Partial<AuditorInit> = {}) {
  const store = new MemoryStore({ maxEvents: 10_000_000 });
  const auditors = Array.from(
    { length: chains },
    (_, c) => new Auditor({ store, spool: false, actor: `agent-${c}`, ...options }),
  );
  for (let i = 0; i < perChain; i++) {
    for (const [c, a] of auditors.entries()) {
      a.record({
        type: i % 2 ? "work.end" : "work.start",
        data: { tool: "search", callId: `${c}-${i}`, i },
      });
    }
    // An agent yields to the event loop between steps; that is when batches are written.
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(auditors.map((a) => a.close()));
  return { store, events: await store.query() };
}

/** A copy of the stored trail, changed by `mutate`: the attacker's edit of the database. */
async function tamper(events: AuditEvent[], mutate: (events: AuditEvent[]) => AuditEvent[]) {
  const copy = structuredClone(events);
  const store = new MemoryStore({ maxEvents: 10_000_000 });
  await store.append(mutate(copy));
  return store;
}

function kinds(report: { problems: { kind: ChainProblemKind }[] }): ChainProblemKind[] {
  return [...new Set(report.problems.map((p) => p.kind))].sort();
}

const ofChain = (events: AuditEvent[], chainId: string) =>
  events.filter((e) => e.chain?.id === chainId).sort((a, b) => a.chain!.seq - b.chain!.seq);

describe("canonical encoding", () => {
  it("matches an independent implementation (sorted keys, no spaces, UTF-8, ECMAScript numbers)", () => {
    const event: AuditEvent = {
      id: "01890a5d-ac96-774b-bcce-b302099a8057",
      type: "tool.start",
      time: "2026-11-22T05:44:30.123Z",
      actor: "support-bot",
      data: {
        tool: "search",
        callId: "c1",
        args: {
          query: "café — 你好",
          limit: 10,
          ratio: 0.5,
          big: 1e21,
          tags: ["b", "a"],
          nested: { z: true, a: null },
        },
      },
      chain: { id: "01890a5d-ac96-7000-8000-000000000001", seq: 1, prev: "", hash: "ignored" },
    };
    // Vectors computed with Python: json.dumps(e, sort_keys=True, separators=(",", ":"),
    // ensure_ascii=False), then hashlib.sha256 / hmac.new(key, …, sha256).
    expect(chainInput(event)).toBe(
      '{"actor":"support-bot","chain":{"id":"01890a5d-ac96-7000-8000-000000000001","prev":"","seq":1},"data":{"args":{"big":1e+21,"limit":10,"nested":{"a":null,"z":true},"query":"café — 你好","ratio":0.5,"tags":["b","a"]},"callId":"c1","tool":"search"},"id":"01890a5d-ac96-774b-bcce-b302099a8057","time":"2026-11-22T05:44:30.123Z","type":"tool.start"}',
    );
    expect(hashEvent(event)).toBe(
      "f4b23452598a7d6e454afa42d4dda20c3238d720ec1ea2fddf7d19c1e4affac6",
    );
    expect(hashEvent(event, KEY)).toBe(
      "d11dba880acff443eb8ffdae6c01ba17e0cc1f65e6eb0e467f300cbb3505dc8f",
    );
  });

  it("orders keys by UTF-16 code units, array-index-like keys included", () => {
    expect(canonicalJson({ b: 1, a: { "10": 1, "2": 2, x: [{ z: 1, y: 2 }] }, é: 0, Z: 0 })).toBe(
      '{"Z":0,"a":{"10":1,"2":2,"x":[{"y":2,"z":1}]},"b":1,"é":0}',
    );
    expect(canonicalJson({ a: [3, { c: null, b: "x" }], "": true })).toBe(
      '{"":true,"a":[3,{"b":"x","c":null}]}',
    );
  });

  it("gives the same text on every path: sorted or not, nested, __proto__ keys, toJSON", () => {
    // A reference written the slow, obvious way.
    const reference = (v: unknown): string => {
      if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
      if (Array.isArray(v))
        return `[${v.map((x) => (x === undefined ? "null" : reference(x))).join(",")}]`;
      const o = v as Record<string, unknown>;
      return `{${Object.keys(o)
        .sort()
        .filter((k) => o[k] !== undefined)
        .map((k) => `${JSON.stringify(k)}:${reference(o[k])}`)
        .join(",")}}`;
    };
    const cases: unknown[] = [
      { a: 1, b: { d: 1, c: 2 } },
      { a: [{ b: 1, a: 2 }, [{ y: 1, x: 0 }]], z: { ok: true } },
      JSON.parse('{"b":1,"__proto__":{"y":1,"x":2},"a":2}'),
      JSON.parse('{"a":{"__proto__":1}}'),
      { "10": 1, "2": 2, a: { b: 1, a: 0 } },
      { sorted: { a: 1, b: 2 }, also: [1, "two", null] },
    ];
    for (const c of cases) expect(canonicalJson(c)).toBe(reference(c));
    expect(canonicalJson(JSON.parse('{"__proto__":{"b":1,"a":2}}'))).toBe(
      '{"__proto__":{"a":2,"b":1}}',
    );
    // toJSON runs first, then keys are ordered.
    const at = new Date(0);
    expect(canonicalJson({ b: at, a: { toJSON: () => ({ y: 1, x: 2 }) } })).toBe(
      '{"a":{"x":2,"y":1},"b":"1970-01-01T00:00:00.000Z"}',
    );
  });

  it("escapes like JSON, drops undefined members, and writes -0 as 0", () => {
    expect(canonicalJson({ b: undefined, a: '\u0001\n"\\', c: -0, d: [undefined] })).toBe(
      '{"a":"\\u0001\\n\\"\\\\","c":0,"d":[null]}',
    );
  });
});

describe("chains in the stored trail", () => {
  it("verifies an untouched trail of 100,000 events across four chains", async () => {
    const { store } = await trail(4, 25_000, { integrity: { key: KEY } });
    const report = await verifyChain(store, { key: KEY });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.chains).toHaveLength(4);
    for (const c of report.chains) {
      expect(c.closed).toBe(true);
      expect(c.alg).toBe("hmac-sha256");
      // 25,000 events, 25 periodic checkpoints, and the final one.
      expect(c.events).toBe(25_026);
      expect(c.firstSeq).toBe(1);
      expect(c.lastSeq).toBe(25_026);
    }
    expect(report.events).toBe(100_104);
    expect(report.warnings).toEqual([]);
  }, 120_000);

  it("stores gap-free seq, prev links and checkpoints in every event", async () => {
    const { events } = await trail(1, 2500, { integrity: { checkpointEvery: 1000 } });
    const chain = ofChain(events, events[0]!.chain!.id);
    chain.forEach((e, i) => {
      expect(e.chain!.seq).toBe(i + 1);
      expect(e.chain!.prev).toBe(i === 0 ? "" : chain[i - 1]!.chain!.hash);
      expect(e.chain!.hash).toBe(hashEvent(e));
    });
    const checkpoints = chain.filter((e) => e.type === "audit.checkpoint");
    expect(checkpoints.map((e) => [e.chain!.seq, e.data.seq, e.data.final ?? false])).toEqual([
      [1001, 1000, false],
      [2002, 2001, false],
      [2503, 2502, true],
    ]);
  });
});

describe("verifyChain names the exact event", () => {
  it("finds a modified payload", async () => {
    const { events } = await trail(2, 50);
    const victim = events[37]!;
    const store = await tamper(events, (es) => {
      const e = es.find((x) => x.id === victim.id)!;
      e.data.tool = "delete_everything";
      return es;
    });
    const report = await verifyChain(store);
    expect(report.ok).toBe(false);
    // The edited event, and the Merkle root its chain's next checkpoint names.
    expect(kinds(report)).toEqual(["hash-mismatch", "root-mismatch"]);
    expect(report.problems).toContainEqual(
      expect.objectContaining({
        kind: "hash-mismatch",
        eventId: victim.id,
        seq: victim.chain!.seq,
        chainId: victim.chain!.id,
      }),
    );
    expect(report.problems.filter((p) => p.kind === "root-mismatch")).toEqual([
      expect.objectContaining({ chainId: victim.chain!.id }),
    ]);
  });

  it("finds a deleted event (a gap)", async () => {
    const { events } = await trail(2, 50);
    const victim = events[40]!;
    const store = await tamper(events, (es) => es.filter((e) => e.id !== victim.id));
    const report = await verifyChain(store);
    expect(kinds(report)).toEqual(["gap"]);
    expect(report.problems[0]).toMatchObject({ chainId: victim.chain!.id, seq: victim.chain!.seq });
    expect(report.problems[0]!.message).toContain(`seq ${victim.chain!.seq} missing`);
  });

  it("finds a deleted head, unless a prune checkpoint anchors it", async () => {
    const { events } = await trail(1, 20);
    const store = await tamper(events, (es) => es.filter((e) => e.chain!.seq > 3));
    const report = await verifyChain(store);
    expect(report.problems).toEqual([
      expect.objectContaining({
        kind: "gap",
        seq: 1,
        message: expect.stringContaining("seq 1..3 missing"),
      }),
    ]);
  });

  it("finds reordered events", async () => {
    const { events } = await trail(1, 30);
    const chain = ofChain(events, events[0]!.chain!.id);
    const [a, b] = [chain[10]!, chain[11]!];
    const store = await tamper(events, (es) => {
      const ea = es.find((e) => e.id === a.id)!;
      const eb = es.find((e) => e.id === b.id)!;
      // Move seq 11 after seq 12 in the stored order.
      ea.time = new Date(Date.parse(eb.time) + 1).toISOString();
      return es;
    });
    const report = await verifyChain(store);
    expect(report.problems).toContainEqual(
      expect.objectContaining({
        kind: "reordered",
        eventId: b.id,
        seq: b.chain!.seq,
        message: expect.stringContaining(a.id),
      }),
    );
    expect(report.problems).toContainEqual(
      expect.objectContaining({ kind: "hash-mismatch", eventId: a.id }),
    );
  });

  it("finds an inserted foreign event, even one with a valid hash", async () => {
    const { events } = await trail(1, 30);
    const chain = ofChain(events, events[0]!.chain!.id);
    const after = chain[5]!;
    const forged: AuditEvent = {
      id: "01890a5d-ac96-7fff-8fff-000000000bad",
      type: "policy.decision",
      time: after.time,
      data: { policy: "refunds", decision: "allow" },
      chain: { id: after.chain!.id, seq: after.chain!.seq + 1, prev: after.chain!.hash, hash: "" },
    };
    forged.chain!.hash = hashEvent(forged);
    const unchained: AuditEvent = {
      id: "01890a5d-ac96-7fff-8fff-00000000dead",
      type: "note",
      time: after.time,
      data: {},
    };
    const store = await tamper(events, (es) => [...es, forged, unchained]);
    const report = await verifyChain(store);
    expect(report.problems).toContainEqual(
      expect.objectContaining({ kind: "duplicate", eventId: forged.id, seq: forged.chain!.seq }),
    );
    expect(report.problems).toContainEqual(
      expect.objectContaining({ kind: "unchained", eventId: unchained.id }),
    );
  });

  it("finds a truncated tail through the witness, and an unclosed chain without one", async () => {
    const witnessed: AuditEvent[] = [];
    const witness: AuditExporter = {
      id: "witness",
      async export(batch) {
        witnessed.push(...structuredClone(batch));
      },
    };
    const { events } = await trail(1, 2500, { integrity: { checkpointEvery: 1000, witness } });
    expect(witnessed.map((e) => e.data.seq)).toEqual([1000, 2001, 2502]);
    const cut = events.filter((e) => e.chain!.seq <= 2200);
    const store = await tamper(cut, (es) => es);
    const report = await verifyChain(store, { witness: witnessed });
    expect(report.problems).toEqual([
      expect.objectContaining({
        kind: "truncated",
        seq: 2502,
        message: expect.stringContaining("store ends at seq 2200"),
      }),
    ]);
    expect(report.problems[0]!.message).toContain(cut[cut.length - 1]!.id);
    const alone = await verifyChain(store);
    expect(alone.ok).toBe(true);
    expect(alone.warnings).toEqual([expect.objectContaining({ kind: "unclosed", seq: 2200 })]);
    const strict = await verifyChain(store, { requireClosed: true });
    expect(kinds(strict)).toEqual(["unclosed"]);
  });

  it("finds events appended after the final checkpoint", async () => {
    const { events } = await trail(1, 10);
    const chain = ofChain(events, events[0]!.chain!.id);
    const last = chain[chain.length - 1]!;
    const later = new Date(Date.parse(last.time) + 1).toISOString();
    const extra: AuditEvent = {
      id: "01890a5d-ac96-7fff-8fff-0000000000ee",
      type: "note",
      time: later,
      data: {},
    };
    extra.chain = {
      id: last.chain!.id,
      seq: last.chain!.seq + 1,
      prev: last.chain!.hash,
      hash: "",
    };
    extra.chain.hash = hashEvent(extra);
    const store = await tamper(events, (es) => [...es, extra]);
    const report = await verifyChain(store);
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: "after-final", eventId: extra.id }),
    ]);
  });

  it("checks checkpoint signatures", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const other = generateKeyPairSync("ed25519");
    const { store, events } = await trail(1, 1500, {
      integrity: { signingKey: privateKey, checkpointEvery: 500 },
    });
    expect((await verifyChain(store, { publicKey })).problems).toEqual([]);
    const unchecked = await verifyChain(store);
    expect(unchecked.warnings.some((w) => w.kind === "unsigned-checkpoint")).toBe(true);
    const checkpoint = events.find((e) => e.type === "audit.checkpoint")!;
    const forged = await tamper(events, (es) => {
      // The same note body, signed by another key under the same signer name.
      const c = es.find((e) => e.id === checkpoint.id)!;
      const { note: _note, ...data } = c.data as unknown as CheckpointData;
      c.data.note = signCheckpoint(data, other.privateKey);
      return es;
    });
    const report = await verifyChain(forged, { publicKey });
    expect(report.problems).toContainEqual(
      expect.objectContaining({ kind: "bad-signature", eventId: checkpoint.id }),
    );
    const wrongPublic = await verifyChain(store, { publicKey: other.publicKey });
    expect(wrongPublic.problems.filter((p) => p.kind === "bad-signature")).toHaveLength(4);
    const { store: unsigned } = await trail(1, 10);
    expect(kinds(await verifyChain(unsigned, { publicKey }))).toEqual(["unsigned-checkpoint"]);
  });

  it("reports a wrong or missing key once per chain, not once per event", async () => {
    const { store } = await trail(2, 100, { integrity: { key: KEY } });
    const wrong = await verifyChain(store, { key: "another key, long enough" });
    expect(wrong.problems).toHaveLength(2);
    expect(kinds(wrong)).toEqual(["wrong-key"]);
    expect(wrong.problems[0]!.message).toMatch(
      /written with key id [0-9a-f]{16}, not with the given key/,
    );
    const none = await verifyChain(store);
    expect(kinds(none)).toEqual(["wrong-key"]);
    expect(none.problems[0]!.message).toContain("pass its key");
    const { store: plain } = await trail(1, 10);
    expect((await verifyChain(plain, { key: KEY })).problems[0]!.message).toContain("not keyed");
  });

  it("cannot be fooled by rehashing a keyed chain without the key", async () => {
    const { events } = await trail(1, 20, { integrity: { key: KEY } });
    const chain = ofChain(events, events[0]!.chain!.id);
    const store = await tamper(events, (es) => {
      // The attacker edits seq 5 and recomputes every following hash with plain SHA-256.
      const byId = new Map(es.map((e) => [e.id, e]));
      let prev = chain[3]!.chain!.hash;
      for (const original of chain.slice(4)) {
        const e = byId.get(original.id)!;
        if (e.chain!.seq === 5) e.data.tool = "exfiltrate";
        e.chain!.prev = prev;
        e.chain!.hash = hashEvent(e);
        prev = e.chain!.hash;
      }
      return es;
    });
    const report = await verifyChain(store, { key: KEY });
    expect(report.ok).toBe(false);
    expect(report.problems.some((p) => p.kind === "hash-mismatch" && p.seq === 5)).toBe(true);
  });
});

describe("prune keeps the rest verifiable", () => {
  it("anchors every pruned chain with a checkpoint", async () => {
    const store = new MemoryStore({ maxEvents: 1_000_000 });
    const base = Date.parse("2026-01-01T00:00:00.000Z");
    const writers = [0, 1].map((c) => new Auditor({ store, spool: false, actor: `w${c}` }));
    for (let i = 0; i < 200; i++) {
      for (const w of writers)
        w.record({ type: "t", time: new Date(base + i * 1000), data: { i } });
    }
    await Promise.all(writers.map((w) => w.flush()));
    const janitor = new Auditor({ store, spool: false, actor: "janitor" });
    const deleted = await janitor.prune({ before: new Date(base + 100_000) });
    expect(deleted).toBe(200);
    await Promise.all([...writers, janitor].map((w) => w.close()));
    const report = await verifyChain(store);
    expect(report.problems).toEqual([]);
    const anchors = await store.query({ type: "audit.checkpoint", data: { reason: "prune" } });
    expect(anchors).toHaveLength(2);
    const byKeep = await janitor.prune({ keep: 10 }).catch((e: unknown) => e);
    expect(String(byKeep)).toMatch(/after close/);
  });

  it("anchors a prune by count", async () => {
    const store = new MemoryStore({ maxEvents: 1_000_000 });
    const a = new Auditor({ store, spool: false });
    for (let i = 0; i < 300; i++) a.record({ type: "t", data: { i } });
    await a.flush();
    await a.prune({ keep: 120 });
    await a.close();
    expect(await verifyChain(store)).toMatchObject({ ok: true });
    // Without the anchor the same cut is reported.
    const events = await store.query();
    const bare = await tamper(events, (es) => es.filter((e) => e.data.reason !== "prune"));
    expect(kinds(await verifyChain(bare))).toEqual(["gap"]);
  });
});

describe("approval resolutions", () => {
  it("are sealed so the trail with them verifies, and losers leave no gap", async () => {
    const store = new MemoryStore();
    const agent = new Auditor({ store, spool: false, integrity: { key: KEY } });
    const humans = [1, 2, 3].map(
      () => new Auditor({ store, spool: false, integrity: { key: KEY } }),
    );
    const id = agent.startRun({ agent: "bot" }).requestApproval({ action: "refund" });
    await agent.flush();
    await Promise.allSettled(
      humans.map((h, i) => h.approvals.resolve(id, { outcome: "approve", resolvedBy: `h${i}` })),
    );
    await Promise.all([agent, ...humans].map((a) => a.close()));
    const report = await verifyChain(store, { key: KEY });
    expect(report.problems).toEqual([]);
    expect(await store.count({ type: "approval.resolve" })).toBe(1);
  });
});
