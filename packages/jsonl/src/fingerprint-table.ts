/**
 * Index entries — a fingerprint of an event id and the byte offset of its line — sorted by
 * fingerprint (ties by offset), held in typed arrays: 12 bytes an entry, outside the JS heap,
 * searched by binary search. This is what a writer keeps of a day instead of a set of ids.
 */
export class FingerprintTable {
  readonly fps: Uint32Array;
  readonly offsets: Float64Array;

  /** `fps` must be sorted (ties by offset); see {@link FingerprintTable.sort}. */
  constructor(fps: Uint32Array, offsets: Float64Array) {
    this.fps = fps;
    this.offsets = offsets;
  }

  static readonly empty = new FingerprintTable(new Uint32Array(0), new Float64Array(0));

  /**
   * A table from entries in any order. Entries with equal fingerprints keep their given order, so
   * entries given in file order stay in file order.
   */
  static sort(fps: Uint32Array, offsets: Float64Array): FingerprintTable {
    radixSort(fps, offsets);
    return new FingerprintTable(fps, offsets);
  }

  /** This table's entries together with `extra` (entries after all of this table's offsets). */
  merge(extraFps: Uint32Array, extraOffsets: Float64Array): FingerprintTable {
    const n = this.fps.length + extraFps.length;
    const fps = new Uint32Array(n);
    const offsets = new Float64Array(n);
    fps.set(this.fps, 0);
    fps.set(extraFps, this.fps.length);
    offsets.set(this.offsets, 0);
    offsets.set(extraOffsets, this.offsets.length);
    return FingerprintTable.sort(fps, offsets);
  }

  get size(): number {
    return this.fps.length;
  }

  /** Pushes onto `out` the offsets of every entry with this fingerprint. */
  lookup(fp: number, out: number[]): void {
    const fps = this.fps;
    let lo = 0;
    let hi = fps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (fps[mid]! < fp) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < fps.length && fps[i] === fp; i++) out.push(this.offsets[i]!);
  }
}

// Least-significant-digit radix sort on the 32-bit keys, 8 bits a pass: stable, and linear in the
// number of entries (a million entries sort in tens of milliseconds).
function radixSort(keys: Uint32Array, values: Float64Array): void {
  const n = keys.length;
  if (n < 2) return;
  let kA: Uint32Array = keys;
  let vA: Float64Array = values;
  let kB: Uint32Array = new Uint32Array(n);
  let vB: Float64Array = new Float64Array(n);
  const counts = new Uint32Array(256);
  for (let shift = 0; shift < 32; shift += 8) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(kA[i]! >>> shift) & 0xff]!++;
    let sum = 0;
    for (let d = 0; d < 256; d++) {
      const c = counts[d]!;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const k = kA[i]!;
      const p = counts[(k >>> shift) & 0xff]!++;
      kB[p] = k;
      vB[p] = vA[i]!;
    }
    [kA, kB] = [kB, kA];
    [vA, vB] = [vB, vA];
  }
  // Four passes: the sorted entries are back in the arrays given.
}
