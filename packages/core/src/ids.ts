import { createHash, randomFillSync } from "node:crypto";

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

// Random bytes are drawn in blocks: one syscall per 256 ids instead of one per id.
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

function randomBytes(n: number): Buffer {
  if (poolOffset + n > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += n;
  return pool.subarray(start, start + n);
}

let lastMs = -1;
let counter = 0;

/** A UUIDv7 together with the millisecond timestamp embedded in it. */
export interface TimedId {
  id: string;
  ms: number;
}

/**
 * Makes a UUIDv7 (RFC 9562) that sorts after every id made before it in this process: within one
 * millisecond the 12-bit `rand_a` field is a counter (method 1 of the RFC); if the clock goes
 * backwards the last timestamp is kept. Returns the timestamp used so the event's `time` matches.
 */
export function uuidv7WithTime(now: number = Date.now()): TimedId {
  if (now > lastMs) {
    lastMs = now;
    // Start each millisecond at a random counter in the lower half so it rarely overflows.
    counter = randomBytes(1)[0]! << 3;
  } else {
    counter++;
    if (counter > 0xfff) {
      // 4096 ids in one millisecond: borrow the next millisecond rather than break the order.
      lastMs++;
      counter = 0;
    }
  }
  const ms = lastMs;
  const r = randomBytes(8);
  const high = Math.floor(ms / 0x10000);
  const low = ms % 0x10000;
  const id =
    HEX[(high / 0x1000000) & 0xff]! +
    HEX[(high / 0x10000) & 0xff]! +
    HEX[(high >>> 8) & 0xff]! +
    HEX[high & 0xff]! +
    "-" +
    HEX[low >>> 8]! +
    HEX[low & 0xff]! +
    "-" +
    HEX[0x70 | (counter >>> 8)]! +
    HEX[counter & 0xff]! +
    "-" +
    HEX[0x80 | (r[0]! & 0x3f)]! +
    HEX[r[1]!]! +
    "-" +
    HEX[r[2]!]! +
    HEX[r[3]!]! +
    HEX[r[4]!]! +
    HEX[r[5]!]! +
    HEX[r[6]!]! +
    HEX[r[7]!]!;
  return { id, ms };
}

/** A new UUIDv7: lowercase, hyphenated, time-ordered. */
export function uuidv7(): string {
  return uuidv7WithTime().id;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for a lowercase hyphenated UUID of any version. */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID_PATTERN.test(value);
}

/** The millisecond timestamp inside a UUIDv7, or `undefined` for any other string. */
export function uuidv7Time(id: string): number | undefined {
  if (!isUuid(id) || id[14] !== "7") return undefined;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/**
 * A UUID (version 8, RFC 9562 "custom") derived from a name: the same name always gives the same
 * id. Used where two writers must collide on purpose, e.g. the one resolution of an approval.
 */
export function uuidFromName(name: string): string {
  const digest = createHash("sha256").update(name).digest();
  digest[6] = (digest[6]! & 0x0f) | 0x80;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  const hex = digest.toString("hex", 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A random OpenTelemetry-compatible span id: 16 lowercase hex characters, never all zero. */
export function newSpanId(): string {
  const b = randomBytes(8);
  let s = "";
  for (let i = 0; i < 8; i++) s += HEX[b[i]!]!;
  return s === "0000000000000000" ? newSpanId() : s;
}

/** A random OpenTelemetry-compatible trace id: 32 lowercase hex characters. */
export function newTraceId(): string {
  return newSpanId() + newSpanId();
}
