import * as crypto from "node:crypto";

const { createHash } = crypto;

// One-shot hashing (Node 20.12+) skips building a Hash object per call: on the write path, where
// every event is hashed twice, that object is most of the cost. Older Node falls back.
type OneShot = (algorithm: string, data: string, encoding: "buffer" | "hex") => Buffer | string;
const oneShot = (crypto as unknown as { hash?: OneShot }).hash;
const oneShotBytes = oneShot as
  | ((algorithm: string, data: Uint8Array, encoding: "buffer") => Buffer)
  | undefined;

/** SHA-256 of a string's UTF-8 bytes, as lowercase hex. */
export function sha256Hex(text: string): string {
  return oneShot
    ? (oneShot("sha256", text, "hex") as string)
    : createHash("sha256").update(text, "utf8").digest("hex");
}

// RFC 6962 §2.1 (and RFC 9162 §2.1): leaves are hashed with a 0x00 prefix, interior nodes with 0x01,
// so a leaf can never pass for a node.

/** The Merkle leaf hash of an event: SHA-256(0x00 ‖ UTF-8 of its chain input). */
export function leafHash(chainInput: string): Buffer {
  // "\u0000" is the single byte 0x00 in UTF-8.
  return oneShot
    ? (oneShot("sha256", `\u0000${chainInput}`, "buffer") as Buffer)
    : createHash("sha256").update(Buffer.of(0)).update(chainInput, "utf8").digest();
}

/** An interior node: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Buffer, right: Buffer): Buffer {
  // About one node is hashed per event added; one-shot over the 65 bytes skips the Hash object.
  return oneShotBytes
    ? oneShotBytes("sha256", Buffer.concat([NODE_PREFIX, left, right]), "buffer")
    : createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest();
}

const NODE_PREFIX = Buffer.of(1);

const EMPTY = createHash("sha256").digest();

/**
 * The right edge of a Merkle tree built leaf by leaf: the roots of its perfect subtrees, largest
 * first (like the bits of a binary counter). Enough to give the RFC 6962 root at any size in
 * O(log n) memory, so a writer can put the root of its whole chain in every checkpoint.
 */
export class MerkleFrontier {
  #size = 0;
  #roots: { height: number; hash: Buffer }[] = [];

  /** Leaves added so far. */
  get size(): number {
    return this.#size;
  }

  /** Adds a leaf hash. */
  push(leaf: Buffer): void {
    let node = { height: 0, hash: leaf };
    let top = this.#roots[this.#roots.length - 1];
    while (top && top.height === node.height) {
      this.#roots.pop();
      node = { height: node.height + 1, hash: nodeHash(top.hash, node.hash) };
      top = this.#roots[this.#roots.length - 1];
    }
    this.#roots.push(node);
    this.#size++;
  }

  /** The RFC 6962 Merkle tree hash of the leaves so far (SHA-256 of nothing when empty). */
  root(): Buffer {
    const r = this.#roots;
    if (r.length === 0) return EMPTY;
    let acc = r[r.length - 1]!.hash;
    for (let i = r.length - 2; i >= 0; i--) acc = nodeHash(r[i]!.hash, acc);
    return acc;
  }

  /** A copy, to return to (see `restore`). */
  snapshot(): { size: number; roots: { height: number; hash: Buffer }[] } {
    return { size: this.#size, roots: [...this.#roots] };
  }

  restore(s: { size: number; roots: { height: number; hash: Buffer }[] }): void {
    this.#size = s.size;
    this.#roots = [...s.roots];
  }
}

/** The Merkle tree hash of a list of leaf hashes (RFC 6962 MTH). */
export function merkleRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return EMPTY;
  if (leaves.length === 1) return leaves[0]!;
  const k = largestPowerOfTwoBelow(leaves.length);
  return nodeHash(merkleRoot(leaves.slice(0, k)), merkleRoot(leaves.slice(k)));
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The audit path of leaf `index` (0-based) in the tree of `leaves` (RFC 6962 PATH). */
export function inclusionProof(index: number, leaves: readonly Buffer[]): Buffer[] {
  if (index < 0 || index >= leaves.length) throw new RangeError("leaf index out of range");
  if (leaves.length === 1) return [];
  const k = largestPowerOfTwoBelow(leaves.length);
  if (index < k) return [...inclusionProof(index, leaves.slice(0, k)), merkleRoot(leaves.slice(k))];
  return [...inclusionProof(index - k, leaves.slice(k)), merkleRoot(leaves.slice(0, k))];
}

/**
 * Checks an inclusion proof (RFC 9162 §2.1.3.2): true when `leaf` at `index` (0-based) is in the
 * tree of `size` leaves whose root is `root`.
 */
export function verifyInclusion(
  leaf: Buffer,
  index: number,
  size: number,
  proof: readonly Buffer[],
  root: Buffer,
): boolean {
  if (index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}
