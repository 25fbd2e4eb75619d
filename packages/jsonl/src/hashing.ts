/**
 * A 32-bit fingerprint of an event id (FNV-1a over its UTF-16 code units, then murmur3's
 * finaliser so that the top bits, which choose a sidecar bucket, are evenly spread). Equal ids
 * have equal fingerprints; unequal ones rarely do, and a match is always confirmed by reading the
 * line it points to.
 */
export function fingerprint(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 32-bit checksum of bytes (FNV-style, a 32-bit word at a time): it detects a damaged or
 * truncated sidecar section. It is not a defence against someone who can write the directory
 * (nothing in the sidecar is trusted further than the lines it points to can confirm). `seed`
 * continues an earlier checksum, so two ranges can be checked as one.
 */
export function checksum(
  bytes: Uint8Array,
  start = 0,
  end = bytes.length,
  seed = 0x811c9dc5,
): number {
  let h = seed;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let i = start;
  for (; i + 4 <= end; i += 4) {
    h = Math.imul(h ^ view.getUint32(i, true), 0x01000193);
    h ^= h >>> 15;
  }
  for (; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}
