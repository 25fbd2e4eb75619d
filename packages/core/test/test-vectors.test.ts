import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  type AuditEvent,
  type AuditFilter,
  type AuditStore,
  type CheckpointData,
  canonicalJson,
  chainInput,
  checkpointNoteBody,
  checkpointSignatureValid,
  hashEvent,
  keyIdOf,
  leafHash,
  merkleRoot,
  noteVerifierKey,
  rawEd25519PublicKey,
  resolutionEventId,
  storableString,
  verifyChain,
  verifyEvidenceBundle,
} from "../src/index.js";
import { eventMatches, resolveFilter } from "../src/store-kit/index.js";

// The published vectors (docs/test-vectors.json), recomputed with this package's code.
const vectors = JSON.parse(
  readFileSync(new URL("../../../docs/test-vectors.json", import.meta.url), "utf8"),
);

interface Described {
  event: AuditEvent;
  chainInput: string;
  chainInputUtf8Hex: string;
  hash: string;
  leaf: string;
  key?: string;
}
interface Finding {
  kind: string;
  eventId?: string;
}

const keys = vectors.keys;
const publicKey = createPublicKey(keys.ed25519.publicKeyPem);
const keyFor = (name?: string): string | undefined =>
  name === "hmac" ? keys.hmac.text : name === "wrong" ? keys.hmacWrong.text : undefined;
const pending = new Set<string>(vectors.pendingFindings);

/**
 * A store over a list, read in the list's order, as an exported trail is read: filters as any
 * store applies them, and, for trails given as stored lines, those lines as its stored rows.
 */
function listStore(events: AuditEvent[], lines?: string[]): AuditStore {
  const matching = (filter?: AuditFilter) => {
    const f = resolveFilter(filter);
    let out = events.filter((e) => eventMatches(f, e));
    if (f.order === "desc") out = [...out].reverse();
    return f.limit === undefined ? out : out.slice(0, f.limit);
  };
  return {
    id: "list",
    capabilities: { persistent: false, multiProcess: false, subscribe: false },
    async *stream(filter?: AuditFilter) {
      yield* matching(filter);
    },
    async query(filter?: AuditFilter) {
      return matching(filter);
    },
    async get(id: string) {
      return events.find((e) => e.id === id);
    },
    async count(filter?: AuditFilter) {
      return matching(filter).length;
    },
    ...(lines && {
      async *storedRows() {
        for (let i = 0; i < lines.length; i++) yield { location: `line ${i + 1}`, text: lines[i]! };
      },
    }),
  } as unknown as AuditStore;
}

const asSet = (findings: Finding[]) =>
  findings
    .filter((f) => !pending.has(f.kind))
    .map((f) => `${f.kind} ${f.eventId ?? ""}`)
    .sort();

describe("docs/test-vectors.json", () => {
  it("the keys: HMAC key bytes are the key's UTF-8, key ids and the Ed25519 verifier key", () => {
    expect(Buffer.from(keys.hmac.text, "utf8").toString("hex")).toBe(keys.hmac.utf8Hex);
    expect(keyIdOf(keys.hmac.text)).toBe(keys.hmac.keyId);
    expect(keyIdOf(Buffer.from(keys.hmac.utf8Hex, "hex"))).toBe(keys.hmac.keyId);
    expect(keyIdOf(keys.hmacWrong.text)).toBe(keys.hmacWrong.keyId);
    expect(rawEd25519PublicKey(publicKey).toString("hex")).toBe(keys.ed25519.publicKeyHex);
    expect(createPublicKey(keys.ed25519.privateKeyPem).equals(publicKey)).toBe(true);
    expect(noteVerifierKey(keys.ed25519.name, publicKey)).toBe(keys.ed25519.verifierKey);
  });

  it("canonical JSON, storable strings and resolution ids", () => {
    for (const c of vectors.canonical)
      expect(canonicalJson(JSON.parse(c.json)), c.name).toBe(c.canonical);
    for (const s of vectors.storable) expect(storableString(s.input)).toBe(s.storable);
    for (const r of vectors.resolutionIds) expect(resolutionEventId(r.approvalId)).toBe(r.eventId);
    // The example the specification gives: code-unit order puts U+1F600 before U+FF21.
    expect(canonicalJson({ Ａ: 1, "😀": 2 })).toBe('{"😀":2,"Ａ":1}');
  });

  it("every event's chain input, hash and leaf", () => {
    const all: Described[] = [
      ...vectors.events,
      ...vectors.chains.flatMap((c: { key?: string; events: Described[] }) =>
        c.events.map((e) => ({ ...e, key: c.key })),
      ),
    ];
    expect(all.length).toBeGreaterThan(10);
    for (const d of all) {
      const input = chainInput(d.event);
      expect(input).toBe(d.chainInput);
      expect(Buffer.from(input, "utf8").toString("hex")).toBe(d.chainInputUtf8Hex);
      expect(hashEvent(d.event, keyFor(d.key))).toBe(d.hash);
      expect(d.event.chain!.hash).toBe(d.hash);
      expect(leafHash(input).toString("hex")).toBe(d.leaf);
    }
  });

  it("every checkpoint: root over its chain, note body, signature", () => {
    for (const c of vectors.chains) {
      const events: AuditEvent[] = c.events.map((d: Described) => d.event);
      for (const cp of c.checkpoints) {
        const e = events.find((x) => x.id === cp.eventId)!;
        const data = e.data as unknown as CheckpointData;
        const covered = events.filter((x) => x.chain!.seq <= data.seq);
        const root = merkleRoot(covered.map((x) => leafHash(chainInput(x)))).toString("hex");
        expect(root).toBe(cp.root);
        expect(data.root).toBe(cp.root);
        const { note: _drop, ...rest } = data;
        expect(checkpointNoteBody(rest)).toBe(cp.noteBody);
        expect(cp.note.startsWith(`${cp.noteBody}\n— ${keys.ed25519.name} `)).toBe(true);
        expect(checkpointSignatureValid(data, publicKey)).toBe(true);
      }
    }
  });

  it("each tampered trail gives exactly its findings (those verifyChain reports today)", async () => {
    expect(vectors.tampered.length).toBeGreaterThan(15);
    for (const t of vectors.tampered) {
      const events: AuditEvent[] = t.lines ? t.lines.map((l: string) => JSON.parse(l)) : t.events;
      const key = keyFor(t.verify.key);
      const report = await verifyChain(listStore(events, t.lines), {
        ...(key !== undefined && { key }),
        ...(t.verify.publicKey && { publicKey }),
        ...(t.witness && { witness: t.witness }),
        requireClosed: t.verify.requireClosed,
      });
      expect(asSet(report.problems), t.name).toEqual(asSet(t.findings));
      expect(report.ok, t.name).toBe(asSet(t.findings).length === 0);
    }
  });

  it("the evidence bundles: the good one verifies, the tampered one gives its findings", () => {
    for (const b of vectors.bundles) {
      const report = verifyEvidenceBundle(b.bundle, { publicKey });
      expect(asSet(report.problems), b.name).toEqual(asSet(b.findings));
      expect(report.ok).toBe(b.findings.length === 0);
    }
  });
});
