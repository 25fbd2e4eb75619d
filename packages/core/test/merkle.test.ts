import { createHash, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  Auditor,
  type CheckpointData,
  chainInput,
  checkpointNoteBody,
  checkpointSignatureValid,
  inclusionProof,
  leafHash,
  MemoryStore,
  MerkleFrontier,
  merkleRoot,
  noteSignedBy,
  parseNote,
  verifyInclusion,
} from "../src/index.js";

const sha = (...parts: Buffer[]) => createHash("sha256").update(Buffer.concat(parts)).digest();

describe("RFC 6962 Merkle trees", () => {
  it("matches the definition for small trees, computed by hand", () => {
    const l = [0, 1, 2].map((i) => leafHash(`leaf ${i}`));
    expect(l[0]).toEqual(sha(Buffer.of(0), Buffer.from("leaf 0")));
    const n01 = sha(Buffer.of(1), l[0]!, l[1]!);
    expect(merkleRoot(l.slice(0, 2))).toEqual(n01);
    expect(merkleRoot(l)).toEqual(sha(Buffer.of(1), n01, l[2]!));
    expect(merkleRoot([])).toEqual(sha());
  });

  it("the frontier gives the same root as the whole tree at every size", () => {
    const leaves = Array.from({ length: 67 }, (_, i) => leafHash(String(i)));
    const f = new MerkleFrontier();
    for (let i = 0; i < leaves.length; i++) {
      f.push(leaves[i]!);
      expect(f.root().equals(merkleRoot(leaves.slice(0, i + 1)))).toBe(true);
    }
  });

  it("inclusion proofs verify for every leaf and fail for a wrong leaf, index or root", () => {
    for (const size of [1, 2, 3, 7, 8, 9, 33]) {
      const leaves = Array.from({ length: size }, (_, i) => leafHash(`e${i}`));
      const root = merkleRoot(leaves);
      for (let i = 0; i < size; i++) {
        const proof = inclusionProof(i, leaves);
        expect(verifyInclusion(leaves[i]!, i, size, proof, root)).toBe(true);
        expect(verifyInclusion(leafHash("forged"), i, size, proof, root)).toBe(false);
        if (size > 1)
          expect(verifyInclusion(leaves[i]!, (i + 1) % size, size, proof, root)).toBe(false);
      }
    }
  });
});

describe("checkpoints", () => {
  it("carry the Merkle root of their chain and a C2SP signed note", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const other = generateKeyPairSync("ed25519");
    const store = new MemoryStore();
    const audit = new Auditor({
      store,
      spool: false,
      integrity: {
        signingKey: privateKey,
        signingKeyName: "example.org/audit",
        checkpointEvery: 10,
      },
    });
    for (let i = 0; i < 25; i++) audit.record({ type: "t", data: { i } });
    await audit.close();
    const events = (await store.query()).sort((a, b) => a.chain!.seq - b.chain!.seq);
    const checkpoints = events.filter((e) => e.type === "audit.checkpoint");
    expect(checkpoints.length).toBeGreaterThanOrEqual(3);
    for (const c of checkpoints) {
      const d = c.data as unknown as CheckpointData;
      const covered = events
        .filter((e) => e.chain!.seq <= d.seq)
        .map((e) => leafHash(chainInput(e)));
      expect(d.root).toBe(merkleRoot(covered).toString("hex"));
      const note = parseNote(d.note!)!;
      expect(note.body).toBe(checkpointNoteBody({ ...d, note: undefined } as CheckpointData));
      const lines = note.body.split("\n");
      expect(lines[0]).toBe(`audit/chain/${d.chainId}`);
      expect(lines[1]).toBe(String(d.seq));
      expect(Buffer.from(lines[2]!, "base64").toString("hex")).toBe(d.root);
      expect(note.signatures[0]!.name).toBe("example.org/audit");
      expect(noteSignedBy(note, publicKey)).toBe(true);
      expect(checkpointSignatureValid(d, publicKey)).toBe(true);
      expect(checkpointSignatureValid(d, other.publicKey)).toBe(false);
      // A changed root no longer matches the signed body.
      expect(checkpointSignatureValid({ ...d, root: "00".repeat(32) }, publicKey)).toBe(false);
    }
  });
});
