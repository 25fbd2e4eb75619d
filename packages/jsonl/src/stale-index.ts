/**
 * An index entry or sample did not match the line it points to: the index no longer describes
 * its file (edited, replaced, or a damaged or forged sidecar). The caller drops the index and
 * builds it again from the file; nothing read through it is used.
 */
export class StaleIndexError extends Error {
  override readonly name = "StaleIndexError";
}
