/**
 * The store-order rule: a store returns events in `(time, id)` order, so an event read after one
 * that sorts after it means rows or lines were swapped or moved (`store-order`). True when `b`,
 * read after `a`, sorts before it. Stores order ids by UTF-16 code units (files, memory) or by code
 * points (SQL's binary and "C" collations); an id pair only one of them calls ordered is not
 * evidence.
 */
export function outOfOrder(
  a: { time: string; id: string },
  b: { time: string; id: string },
): boolean {
  if (a.time !== b.time) return b.time < a.time;
  if (b.id >= a.id) return false;
  return codePointCompare(b.id, a.id) < 0;
}

function codePointCompare(x: string, y: string): number {
  const ix = x[Symbol.iterator]();
  const iy = y[Symbol.iterator]();
  for (;;) {
    const a = ix.next();
    const b = iy.next();
    if (a.done || b.done) return a.done ? (b.done ? 0 : -1) : 1;
    const ca = a.value.codePointAt(0)!;
    const cb = b.value.codePointAt(0)!;
    if (ca !== cb) return ca < cb ? -1 : 1;
  }
}
