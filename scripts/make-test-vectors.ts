// Writes docs/test-vectors.json: complete events with their chain inputs and hashes (SHA-256 and
// HMAC-SHA-256), signed chains with their Merkle roots, tampered trails with the findings each must
// produce, and an evidence bundle. Deterministic: fixed keys, ids and times, so running it again
// gives the same file. Run: pnpm exec tsx scripts/make-test-vectors.ts
import { execFileSync } from "node:child_process";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  type AuditEvent,
  type AuditFilter,
  type AuditStore,
  buildEvidenceBundle,
  type ChainProblemKind,
  type CheckpointData,
  canonicalJson,
  chainInput,
  checkpointNoteBody,
  eventMatches,
  hashEvent,
  keyIdOf,
  leafHash,
  MemoryStore,
  merkleRoot,
  noteVerifierKey,
  rawEd25519PublicKey,
  resolutionEventId,
  resolveFilter,
  signCheckpoint,
  storableString,
  verifyChain,
  verifyEvidenceBundle,
} from "../packages/core/src/index.js";
import { idRightAfter } from "../packages/core/src/integrity.js";

const OUT = new URL("../docs/test-vectors.json", import.meta.url);

/** Findings the specification names that `verifyChain` does not report yet. */
const PENDING: ChainProblemKind[] | string[] = [];

// Keys. The Ed25519 private key is built from a fixed 32-byte seed (PKCS #8 DER prefix + seed).
const SEED = Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex");
const privateKey = createPrivateKey({
  key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), SEED]),
  format: "der",
  type: "pkcs8",
});
const publicKey = createPublicKey(privateKey);
const SIGNER = "audit-test";
const HMAC_KEY = "clé-de-test-0123456789"; // not ASCII on purpose: the key is its UTF-8 bytes
const WRONG_KEY = "another-key-0123456789";

// Ids and times: UUIDv7 whose timestamp is the event's time, counters 000, 001, ….
const BASE = Date.parse("2026-01-15T10:00:00.000Z");
const timeAt = (ms: number) => new Date(BASE + ms).toISOString();
function idAt(ms: number, n: number): string {
  const hex = (BASE + ms).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-${n.toString(16).padStart(12, "0")}`;
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** Links an event into a chain (as a writer does): next seq, previous hash, own hash. */
function link(e: AuditEvent, chainId: string, seq: number, prev: string, key?: string): AuditEvent {
  e.chain = { id: chainId, seq, prev, hash: "" };
  e.chain.hash = hashEvent(e, key);
  return e;
}

/** Recomputes an event's own hash after an edit (what an attacker without the key can do). */
function rehash(e: AuditEvent, key?: string): void {
  e.chain!.hash = hashEvent(e, key);
}

function checkpoint(
  chain: AuditEvent[],
  key: string | undefined,
  extra: { final?: boolean; root?: string } = {},
): AuditEvent {
  const head = chain[chain.length - 1]!;
  const data: CheckpointData = {
    chainId: head.chain!.id,
    seq: head.chain!.seq,
    hash: head.chain!.hash,
    alg: key === undefined ? "sha256" : "hmac-sha256",
    root: extra.root ?? merkleRoot(chain.map((e) => leafHash(chainInput(e)))).toString("hex"),
  };
  if (key !== undefined) data.keyId = keyIdOf(key);
  if (extra.final) data.final = true;
  data.note = signCheckpoint(data, privateKey, SIGNER);
  return {
    id: idRightAfter(head.id),
    type: "audit.checkpoint",
    time: head.time,
    actor: "support-bot",
    data: data as unknown as Record<string, unknown>,
  };
}

/** Builds a chain from unlinked events; `null` in the list means "a checkpoint here". */
function chainOf(
  chainId: string,
  items: (AuditEvent | "checkpoint" | "final")[],
  key?: string,
): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (const item of items) {
    const e =
      item === "checkpoint" || item === "final"
        ? checkpoint(out, key, { final: item === "final" })
        : clone(item);
    const prev = out.length > 0 ? out[out.length - 1]!.chain!.hash : "";
    out.push(link(e, chainId, out.length + 1, prev, key));
  }
  return out;
}

// The run recorded by the main chain: a refund that needs an approval.
const RUN = "019bc119-0100-7000-8000-00000000aaaa";
const SESSION = "conv-3";
const APPROVAL = "019bc119-0100-7000-8000-00000000bbbb";
const CHAIN = "019bc119-0100-7000-8000-00000000c001";
const KEYED_CHAIN = "019bc119-0100-7000-8000-00000000c002";

const runEvents: AuditEvent[] = [
  {
    id: idAt(0, 0),
    type: "run.start",
    time: timeAt(0),
    actor: "support-bot",
    sessionId: SESSION,
    runId: RUN,
    spanId: "a1b2c3d4e5f60718",
    data: {
      agent: "support-bot",
      // "😀" (UTF-16 D83D DE00) sorts before "Ａ" (FF21) by code units, after it by code points.
      input: { Ａ: "fullwidth A", "😀": "emoji", z: "Refund order A-1002 — “urgent” ✓" },
    },
  },
  {
    id: idAt(5, 0),
    type: "tool.start",
    time: timeAt(5),
    actor: "support-bot",
    sessionId: SESSION,
    runId: RUN,
    spanId: "b1b2c3d4e5f60718",
    parentSpanId: "a1b2c3d4e5f60718",
    data: { tool: "lookup_order", callId: "call-1", args: { id: "A-1002" } },
  },
  {
    id: idAt(11, 0),
    type: "tool.end",
    time: timeAt(11),
    actor: "support-bot",
    sessionId: SESSION,
    runId: RUN,
    spanId: "b1b2c3d4e5f60718",
    parentSpanId: "a1b2c3d4e5f60718",
    data: {
      tool: "lookup_order",
      callId: "call-1",
      durationMs: 6,
      result: {
        total: 420,
        costUsd: 0.00042,
        ratio: 1e21,
        tiny: 1e-7,
        big: 123456789012345680000,
        note: 'quote " backslash \\ newline \n tab \t bell \u0007 unit-sep \u001f del \u007f line-sep \u2028',
        replaced: storableString("NUL \u0000 and lone \ud800 surrogate"),
      },
    },
  },
  {
    id: idAt(12, 0),
    type: "approval.request",
    time: timeAt(12),
    actor: "support-bot",
    sessionId: SESSION,
    runId: RUN,
    spanId: "c1b2c3d4e5f60718",
    parentSpanId: "a1b2c3d4e5f60718",
    risk: "high",
    data: { approvalId: APPROVAL, action: "refund", reason: "refund of 420 is over the limit" },
  },
  {
    id: resolutionEventId(APPROVAL),
    type: "approval.resolve",
    time: timeAt(40),
    actor: "alice",
    sessionId: SESSION,
    runId: RUN,
    parentSpanId: "c1b2c3d4e5f60718",
    risk: "high",
    data: {
      approvalId: APPROVAL,
      outcome: "approve",
      resolvedBy: "alice",
      comment: "loyal customer",
    },
  },
  {
    id: idAt(45, 0),
    type: "run.end",
    time: timeAt(45),
    actor: "support-bot",
    sessionId: SESSION,
    runId: RUN,
    spanId: "a1b2c3d4e5f60718",
    data: { status: "ok", durationMs: 45, output: "refunded 420 after approval by alice" },
  },
];

const [runStart, toolStart, toolEnd, request, resolve, runEnd] = runEvents as [
  AuditEvent,
  AuditEvent,
  AuditEvent,
  AuditEvent,
  AuditEvent,
  AuditEvent,
];

// The main chain: SHA-256, a checkpoint after 4 events, a final one at the end; both signed.
const signed = chainOf(CHAIN, [
  runStart,
  toolStart,
  toolEnd,
  request,
  "checkpoint",
  resolve,
  runEnd,
  "final",
]);

// The keyed chain: HMAC-SHA-256 with HMAC_KEY, another writer's events, a signed final checkpoint.
const keyed = chainOf(
  KEYED_CHAIN,
  [
    {
      id: idAt(100, 0),
      type: "billing.refund",
      time: timeAt(100),
      actor: "billing",
      risk: "medium",
      data: { order: "A-1001", amount: 49, currency: "EUR", flags: [true, false, null] },
    },
    {
      id: idAt(101, 0),
      type: "error",
      time: timeAt(101),
      actor: "billing",
      data: { message: "card declined", errorType: "PaymentError" },
    },
    "final",
  ],
  HMAC_KEY,
);

function describeEvent(e: AuditEvent, key?: string) {
  const input = chainInput(e);
  return {
    event: e,
    chainInput: input,
    chainInputUtf8Hex: Buffer.from(input, "utf8").toString("hex"),
    hash: hashEvent(e, key),
    leaf: leafHash(input).toString("hex"),
  };
}

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

interface Finding {
  kind: string;
  eventId?: string;
}
interface Tampered {
  name: string;
  description: string;
  events: AuditEvent[];
  witness?: AuditEvent[];
  lines?: string[];
  verify: { key?: "hmac" | "wrong"; publicKey: boolean; requireClosed: boolean };
  findings: Finding[];
}

const sortStore = (events: AuditEvent[]) =>
  events.sort((a, b) => (a.time !== b.time ? (a.time < b.time ? -1 : 1) : a.id < b.id ? -1 : 1));
const byId = (events: AuditEvent[], id: string) => events.find((e) => e.id === id)!;
const cp1 = signed[4]!;
const finalCp = signed[7]!;
const strict = { publicKey: true, requireClosed: true };

const tampered: Tampered[] = [];
const add = (t: Tampered) => tampered.push(t);

// The untouched trail: no finding.
add({
  name: "intact",
  description: "the signed SHA-256 chain as written",
  events: clone(signed),
  verify: strict,
  findings: [],
});
{
  const events = clone(signed);
  (byId(events, toolEnd.id).data.result as Record<string, unknown>).total = 4200;
  add({
    name: "modified-data",
    description: "a payload value changed, hash not recomputed",
    events,
    verify: strict,
    findings: [
      { kind: "hash-mismatch", eventId: toolEnd.id },
      { kind: "root-mismatch", eventId: cp1.id },
      { kind: "root-mismatch", eventId: finalCp.id },
    ],
  });
}
{
  const events = clone(signed);
  const e = byId(events, resolve.id);
  e.data.outcome = "deny";
  rehash(e);
  add({
    name: "rewritten-resolution",
    description:
      "the resolution rewritten (approve → deny) and its own hash recomputed, as anyone can without a key",
    events,
    verify: strict,
    findings: [
      { kind: "broken-link", eventId: runEnd.id },
      { kind: "root-mismatch", eventId: finalCp.id },
    ],
  });
}
add({
  name: "deleted-event",
  description: "seq 3 deleted",
  events: clone(signed).filter((e) => e.id !== toolEnd.id),
  verify: strict,
  findings: [{ kind: "gap", eventId: request.id }],
});
{
  const events = clone(signed);
  const forged = clone(byId(events, toolStart.id));
  forged.id = idAt(7, 1);
  forged.time = timeAt(7);
  forged.data.args = { id: "A-9999" };
  rehash(forged);
  events.push(forged);
  sortStore(events);
  add({
    name: "inserted-event",
    description: "a second event claiming seq 2, linked to seq 1 and correctly hashed",
    events,
    verify: strict,
    findings: [{ kind: "duplicate", eventId: forged.id }],
  });
}
{
  const events = clone(signed);
  const e = byId(events, toolEnd.id);
  e.time = timeAt(1);
  sortStore(events);
  add({
    name: "changed-time",
    description: "seq 3's time moved before seq 2's, hash not recomputed",
    events,
    verify: strict,
    findings: [
      { kind: "hash-mismatch", eventId: toolEnd.id },
      { kind: "reordered", eventId: toolEnd.id },
      { kind: "root-mismatch", eventId: cp1.id },
      { kind: "root-mismatch", eventId: finalCp.id },
    ],
  });
}
{
  const events = clone(signed);
  const e = byId(events, finalCp.id);
  const d = e.data as unknown as CheckpointData;
  // Flip one bit of the signature (its last byte), re-encode, recompute the event's hash.
  const [body, sig] = [
    d.note!.slice(0, d.note!.lastIndexOf(" ") + 1),
    d.note!.slice(d.note!.lastIndexOf(" ") + 1, -1),
  ];
  const blob = Buffer.from(sig, "base64");
  blob[blob.length - 1] = blob[blob.length - 1]! ^ 1;
  d.note = `${body}${blob.toString("base64")}\n`;
  rehash(e);
  add({
    name: "bad-signature",
    description: "the final checkpoint's note signature altered, the event's hash recomputed",
    events,
    verify: strict,
    findings: [{ kind: "bad-signature", eventId: finalCp.id }],
  });
}
{
  const events = clone(signed);
  const e = byId(events, finalCp.id);
  const d = e.data as unknown as CheckpointData;
  d.seq = 6;
  rehash(e);
  add({
    name: "checkpoint-mismatch",
    description:
      "the final checkpoint's data names seq 6 instead of 7 (note left as signed), hash recomputed",
    events,
    verify: strict,
    findings: [
      { kind: "bad-signature", eventId: finalCp.id },
      { kind: "checkpoint-mismatch", eventId: finalCp.id },
      { kind: "root-mismatch", eventId: finalCp.id },
    ],
  });
}
{
  const events = clone(signed);
  const extra: AuditEvent = {
    id: idAt(60, 0),
    type: "tool.start",
    time: timeAt(60),
    actor: "support-bot",
    runId: RUN,
    data: { tool: "refund", callId: "call-2", args: { amount: 420 } },
  };
  events.push(link(extra, CHAIN, 9, finalCp.chain!.hash));
  add({
    name: "after-final",
    description: "an event appended after the final checkpoint, correctly linked and hashed",
    events,
    verify: strict,
    findings: [{ kind: "after-final", eventId: extra.id }],
  });
}
{
  const events = clone(signed).slice(0, 5);
  add({
    name: "truncated",
    description:
      "the tail (seq 6 to 8) deleted; a witness kept the final checkpoint. Without --require-closed the missing final checkpoint is only a warning",
    events,
    witness: [clone(finalCp)],
    verify: { publicKey: true, requireClosed: false },
    findings: [{ kind: "truncated", eventId: finalCp.id }],
  });
  add({
    name: "unclosed",
    description: "the tail (seq 6 to 8) deleted, verified with --require-closed",
    events: clone(events),
    verify: strict,
    findings: [{ kind: "unclosed", eventId: cp1.id }],
  });
}
{
  const events = clone(signed);
  const loose: AuditEvent = {
    id: idAt(30, 0),
    type: "note.added",
    time: timeAt(30),
    data: { text: "no chain" },
  };
  events.push(loose);
  sortStore(events);
  add({
    name: "unchained",
    description: "an event without a chain link",
    events,
    verify: strict,
    findings: [{ kind: "unchained", eventId: loose.id }],
  });
}
add({
  name: "keyed-intact",
  description: "the HMAC-SHA-256 chain verified with its key",
  events: clone(keyed),
  verify: { key: "hmac", publicKey: true, requireClosed: true },
  findings: [],
});
add({
  name: "keyed-wrong-key",
  description: "the HMAC-SHA-256 chain verified with another key",
  events: clone(keyed),
  verify: { key: "wrong", publicKey: true, requireClosed: true },
  findings: [{ kind: "wrong-key" }],
});
add({
  name: "keyed-no-key",
  description: "the HMAC-SHA-256 chain verified without a key",
  events: clone(keyed),
  verify: strict,
  findings: [{ kind: "wrong-key" }],
});
{
  const events = clone(keyed);
  events[0]!.data.amount = 4900;
  add({
    name: "keyed-modified",
    description: "the keyed chain with a payload changed (hash left as written)",
    events,
    verify: { key: "hmac", publicKey: true, requireClosed: true },
    findings: [
      { kind: "hash-mismatch", eventId: events[0]!.id },
      { kind: "root-mismatch", eventId: events[2]!.id },
    ],
  });
}
{
  // A writer's chain holding a resolution of an approval that was never requested.
  const orphanApproval = "019bc119-0100-7000-8000-00000000dddd";
  const orphan: AuditEvent = {
    id: resolutionEventId(orphanApproval),
    type: "approval.resolve",
    time: timeAt(200),
    actor: "mallory",
    risk: "high",
    data: { approvalId: orphanApproval, outcome: "approve", resolvedBy: "mallory" },
  };
  const chain = chainOf("019bc119-0100-7000-8000-00000000c003", [orphan, "final"]);
  add({
    name: "unbound-resolution",
    description: "an approval.resolve whose approval.request the trail does not hold",
    events: [...clone(signed), ...chain],
    verify: strict,
    findings: [{ kind: "unbound-resolution", eventId: orphan.id }],
  });
}
{
  // A resolution that comes before its request in its chain and in time.
  const approvalId = "019bc119-0100-7000-8000-00000000eeee";
  const early: AuditEvent = {
    id: resolutionEventId(approvalId),
    type: "approval.resolve",
    time: timeAt(300),
    actor: "mallory",
    data: { approvalId, outcome: "approve", resolvedBy: "mallory" },
  };
  const req: AuditEvent = {
    id: idAt(301, 0),
    type: "approval.request",
    time: timeAt(301),
    actor: "support-bot",
    data: { approvalId, action: "delete-account" },
  };
  const chain = chainOf("019bc119-0100-7000-8000-00000000c004", [early, req, "final"]);
  add({
    name: "resolution-before-request",
    description: "an approval.resolve recorded before its approval.request",
    events: [...clone(signed), ...chain],
    verify: strict,
    findings: [{ kind: "unbound-resolution", eventId: early.id }],
  });
}
{
  // A writer that signs a checkpoint whose root is not the root of its chain.
  const chain = chainOf("019bc119-0100-7000-8000-00000000c005", [
    {
      id: idAt(400, 0),
      type: "note.added",
      time: timeAt(400),
      data: { text: "root vector" },
    },
  ]);
  const bad = checkpoint(chain, undefined, { final: true, root: "00".repeat(32) });
  chain.push(link(bad, chain[0]!.chain!.id, 2, chain[0]!.chain!.hash));
  add({
    name: "wrong-root",
    description:
      "a correctly signed and linked checkpoint whose root is not the chain's Merkle root",
    events: [...clone(signed), ...chain],
    verify: strict,
    findings: [{ kind: "root-mismatch", eventId: bad.id }],
  });
}
{
  // Stored text that JSON.parse accepts but a strict reader must refuse: the hashed value is the
  // last duplicate, a filter may see the first.
  const events = clone(signed);
  const lines = events.map((e) => JSON.stringify(e));
  const i = events.findIndex((e) => e.id === toolEnd.id);
  lines[i] = lines[i]!.replace('"total":420', '"total":4900,"total":420');
  add({
    name: "duplicate-key",
    description: "a stored line with a repeated key; the last value matches the hash",
    events,
    lines,
    verify: strict,
    findings: [{ kind: "non-strict-json", eventId: toolEnd.id }],
  });
  const lines2 = events.map((e) => JSON.stringify(e));
  lines2[i] = lines2[i]!.replace('"ratio":1e+21', '"ratio":1e400');
  add({
    name: "non-finite-number",
    description: "a stored line with a number that is not a finite double (1e400)",
    events,
    lines: lines2,
    verify: strict,
    findings: [
      { kind: "non-strict-json", eventId: toolEnd.id },
      { kind: "hash-mismatch", eventId: toolEnd.id },
      { kind: "root-mismatch", eventId: cp1.id },
      { kind: "root-mismatch", eventId: finalCp.id },
    ],
  });
}

// Check every case against verifyChain for the findings it knows (the file must be right).
const known = (f: Finding) => !PENDING.includes(f.kind);
const keyFor = (k?: "hmac" | "wrong") =>
  k === "hmac" ? HMAC_KEY : k === "wrong" ? WRONG_KEY : undefined;
for (const t of tampered) {
  // Stored lines are parsed as JSON.parse does (leniently): only a strict reader sees more.
  const events = t.lines ? t.lines.map((l) => JSON.parse(l) as AuditEvent) : t.events;
  const key = keyFor(t.verify.key);
  const report = await verifyChain(listStore(events, t.lines), {
    ...(key !== undefined && { key }),
    ...(t.verify.publicKey && { publicKey: publicKey }),
    ...(t.witness && { witness: t.witness }),
    requireClosed: t.verify.requireClosed,
  });
  const got = report.problems.map((p) => `${p.kind} ${p.eventId ?? ""}`).sort();
  const want = t.findings
    .filter(known)
    .map((f) => `${f.kind} ${f.eventId ?? ""}`)
    .sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(
      `case ${t.name}: verifyChain found ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`,
    );
  }
}

// The evidence bundle of the run, and a tampered copy.
const store = new MemoryStore();
await store.append(signed);
const bundle = await buildEvidenceBundle(store, RUN, { publicKey });
const badBundle = clone(bundle);
badBundle.entries[2]!.event.data.durationMs = 1;
const bundleFindings = verifyEvidenceBundle(badBundle, { publicKey }).problems.map((p) => ({
  kind: p.kind,
  eventId: p.eventId,
}));
if (!verifyEvidenceBundle(bundle, { publicKey }).ok) throw new Error("the bundle does not verify");

const canonicalCases: [string, string][] = [
  ["keys sorted by UTF-16 code units", '{"b":1,"a":2,"\\uff21":3,"\\ud83d\\ude00":4,"é":5}'],
  ["nested objects and arrays keep array order", '{"z":[3,1,{"y":true,"x":null}],"a":{}}'],
  ["integers", "[0,-1,100,9007199254740993,1e21,123456789012345680000]"],
  ["fractions and exponents", "[0.5,-0.0,1.0,0.00042,1e-7,1.5e-7,1e300,5e-324,0.1,100.25]"],
  [
    "string escapes",
    '"quote \\" backslash \\\\ \\b\\f\\n\\r\\t \\u0000 \\u001f \\u007f é \\u2028 😀 \\/"',
  ],
  ["a lone surrogate (never in a stored event: normalised to U+FFFD first)", '"x\\ud800y"'],
  ["key order inside data: code units, not code points", '{"😀":1,"\\ue000":2,"\\uffff":3}'],
];

const vectors = {
  description:
    "Test vectors for the @audit trail format (docs/FORMAT.md). Generated by scripts/make-test-vectors.ts; do not edit by hand.",
  version: 1,
  pendingFindings: PENDING,
  keys: {
    hmac: {
      text: HMAC_KEY,
      utf8Hex: Buffer.from(HMAC_KEY, "utf8").toString("hex"),
      keyId: keyIdOf(HMAC_KEY),
    },
    hmacWrong: { text: WRONG_KEY, keyId: keyIdOf(WRONG_KEY) },
    ed25519: {
      name: SIGNER,
      seedHex: SEED.toString("hex"),
      publicKeyHex: rawEd25519PublicKey(publicKey).toString("hex"),
      privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
      publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
      verifierKey: noteVerifierKey(SIGNER, publicKey),
    },
  },
  canonical: canonicalCases.map(([name, json]) => ({
    name,
    json,
    canonical: canonicalJson(JSON.parse(json)),
  })),
  storable: [
    "NUL \u0000 here",
    "lone \ud800 high",
    "lone \udc00 low",
    "pair 😀 kept",
    "\udc00\ud800",
  ].map((input) => ({ input, storable: storableString(input) })),
  resolutionIds: [APPROVAL, "approval-42"].map((approvalId) => ({
    approvalId,
    name: `audit:approval.resolve:${approvalId}`,
    eventId: resolutionEventId(approvalId),
  })),
  events: [
    { name: "sha256", alg: "sha256", ...describeEvent(signed[2]!) },
    { name: "hmac-sha256", alg: "hmac-sha256", key: "hmac", ...describeEvent(keyed[0]!, HMAC_KEY) },
  ],
  chains: [
    { name: "signed-sha256", alg: "sha256", chain: signed },
    { name: "keyed-hmac-sha256", alg: "hmac-sha256", key: "hmac", chain: keyed },
  ].map((c) => ({
    name: c.name,
    alg: c.alg,
    ...(c.key && { key: c.key }),
    events: c.chain.map((e) => ({
      ...describeEvent(e, c.key ? HMAC_KEY : undefined),
    })),
    checkpoints: c.chain
      .filter((e) => e.type === "audit.checkpoint")
      .map((e) => {
        const d = e.data as unknown as CheckpointData;
        const { note: _drop, ...rest } = d;
        return { eventId: e.id, root: d.root, noteBody: checkpointNoteBody(rest), note: d.note };
      }),
  })),
  tampered: tampered.map((t) => ({
    name: t.name,
    description: t.description,
    verify: t.verify,
    ...(t.witness && { witness: t.witness }),
    ...(t.lines ? { lines: t.lines } : { events: t.events }),
    findings: t.findings,
  })),
  bundles: [
    { name: "run", verify: { publicKey: true }, bundle, findings: [] },
    {
      name: "run-modified-event",
      verify: { publicKey: true },
      bundle: badBundle,
      findings: bundleFindings,
    },
  ],
};

writeFileSync(OUT, JSON.stringify(vectors, null, 2) + "\n");
// The repository's formatter owns the layout of JSON files: apply it so the file is stable.
execFileSync("npx", ["biome", "format", "--write", fileURLToPath(OUT)], { stdio: "ignore" });
console.log(`wrote ${OUT.pathname}: ${tampered.length} tampered cases`);
