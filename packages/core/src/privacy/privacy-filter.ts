import { AuditConfigError } from "../errors.js";
import type { AuditEvent } from "../event.js";
import type { JsonValue } from "../normalize.js";
import {
  CONTENT_FIELDS,
  hmacOf,
  mapLeaves,
  PRIVACY_MODES,
  type PrivacyMode,
  type PrivacyOptions,
  REDACTED,
  ruleCovers,
} from "./modes.js";
import { Scrubber } from "./scrubber.js";
import { capString, cutString, jsonBytes } from "./size-caps.js";

/** Envelope fields that carry caller-chosen text, scrubbed like payload strings. */
const ENVELOPE_FIELDS = [
  "actor",
  "sessionId",
  "runId",
  "spanId",
  "parentSpanId",
  "traceId",
] as const;

/**
 * Fields of `audit.checkpoint` data that hold integrity material (hashes, signatures, ids). They
 * are kept byte for byte when they have the shape of such material (hex, base64, `alg:` prefixes):
 * a base64 signature can contain a run that looks like a key, and changing it would break the
 * checkpoint. Any other field of a checkpoint, or one of these holding other text, is scrubbed.
 */
const CHECKPOINT_INTEGRITY_FIELDS = new Set([
  "chainId",
  "hash",
  "prev",
  "alg",
  "keyId",
  "signature",
  "root",
]);

function looksLikeIntegrityMaterial(value: string): boolean {
  if (value.length > 1024) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const ok =
      (c >= 48 && c <= 57) ||
      (c >= 65 && c <= 90) ||
      (c >= 97 && c <= 122) ||
      c === 0x2b ||
      c === 0x2f ||
      c === 0x3d ||
      c === 0x5f ||
      c === 0x2d ||
      c === 0x3a ||
      c === 0x2e;
    if (!ok) return false;
  }
  return true;
}

/**
 * Applies privacy to events: secret scrubbing (every string, every object key, and the envelope
 * fields, in all modes and on every event type), the mode of each content field, model-content
 * capture, and size caps. Used by the auditor before events are hashed, stored or exported.
 */
export class PrivacyFilter {
  readonly #mode: PrivacyMode;
  readonly #types: [string, PrivacyMode][];
  readonly #fields: { type?: string; path: string[]; mode: PrivacyMode }[];
  readonly #key: Buffer | undefined;
  readonly #captureContent: boolean;
  readonly #scrubber: Scrubber | undefined;
  readonly #maxString: number;
  readonly #maxBytes: number;
  // Characters seen by the last #clean walk: a cheap upper estimate of the payload's size.
  #size = 0;
  // Scrubbed keys: payload keys repeat from event to event.
  readonly #keyCache = new Map<string, string>();

  /** @throws {AuditConfigError} for an unknown mode, a missing or short key, or an unsafe pattern. */
  constructor(options: PrivacyOptions = {}) {
    const check = (m: unknown, where: string): PrivacyMode => {
      if (!PRIVACY_MODES.includes(m as PrivacyMode)) {
        throw new AuditConfigError(
          `[audit] privacy ${where}: mode must be one of ${PRIVACY_MODES.join(", ")}, got ${JSON.stringify(m)}`,
        );
      }
      return m as PrivacyMode;
    };
    this.#mode = check(options.mode ?? "full", "mode");
    this.#types = Object.entries(options.types ?? {}).map(([t, m]) => [t, check(m, `types.${t}`)]);
    this.#fields = Object.entries(options.fields ?? {}).map(([spec, m]) => {
      const colon = spec.indexOf(":");
      const type = colon >= 0 ? spec.slice(0, colon) : undefined;
      const path = (colon >= 0 ? spec.slice(colon + 1) : spec).split(".").filter(Boolean);
      if (path.length === 0)
        throw new AuditConfigError(`[audit] privacy fields: "${spec}" names no field`);
      return type === undefined
        ? { path, mode: check(m, `fields.${spec}`) }
        : { type, path, mode: check(m, `fields.${spec}`) };
    });
    const usesHashed =
      this.#mode === "hashed" ||
      this.#types.some(([, m]) => m === "hashed") ||
      this.#fields.some((f) => f.mode === "hashed");
    if (options.key !== undefined) {
      const bytes =
        typeof options.key === "string" ? Buffer.from(options.key) : Buffer.from(options.key);
      if (bytes.length < 16)
        throw new AuditConfigError("[audit] privacy.key must be at least 16 bytes");
      this.#key = bytes;
    }
    if (usesHashed && !this.#key) {
      throw new AuditConfigError(
        '[audit] privacy mode "hashed" needs privacy.key: a bare hash of a guessable value (an email, an amount) can be reversed by guessing',
      );
    }
    this.#captureContent = options.captureContent ?? false;
    const scrub = options.scrub ?? true;
    this.#scrubber =
      scrub === false
        ? undefined
        : scrub === true
          ? new Scrubber()
          : new Scrubber({
              ...(scrub.patterns !== undefined && { patterns: scrub.patterns }),
              ...(scrub.keys !== undefined && { keys: scrub.keys }),
            });
    this.#maxString = options.maxStringLength ?? 8192;
    this.#maxBytes = options.maxEventBytes ?? 65_536;
    if (!(this.#maxString >= 16) || !(this.#maxBytes >= 256)) {
      throw new AuditConfigError(
        "[audit] privacy.maxStringLength must be ≥ 16 and maxEventBytes ≥ 256",
      );
    }
  }

  /**
   * The privacy-processed copy of an event: its envelope fields scrubbed and capped, its payload
   * scrubbed, moded and capped. `id`, `type`, `time` and `chain` are kept as they are.
   */
  apply(event: AuditEvent): AuditEvent {
    const type = event.type;
    const out: AuditEvent = { ...event };
    for (const field of ENVELOPE_FIELDS) {
      const v = event[field];
      if (typeof v === "string") out[field] = this.#text(v, this.#maxString);
    }
    this.#size = 0;
    const data =
      type === "audit.checkpoint"
        ? this.#cleanCheckpoint(event.data as Record<string, JsonValue>)
        : (this.#clean(event.data as Record<string, JsonValue>, this.#maxString) as Record<
            string,
            JsonValue
          >);
    const typeMode = this.#typeMode(type);
    const dropContent = !this.#captureContent && type.startsWith("llm.");
    if (typeMode === "full" && this.#fields.length === 0 && !dropContent) {
      out.data = this.#cap(data);
      return out;
    }
    const moded: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(data)) {
      let mode: PrivacyMode = CONTENT_FIELDS.includes(k) ? typeMode : "full";
      if (dropContent && (k === "input" || k === "output")) mode = "none";
      const value = this.#applyFields(type, [k], v, mode);
      if (value !== undefined) moded[k] = value;
    }
    out.data = this.#cap(moded);
    return out;
  }

  /** The keyed hash `hashed` mode writes for a value: `"hmac-sha256:<hex>"` of the type-tagged value. */
  hashValue(value: JsonValue): string {
    if (!this.#key) {
      throw new AuditConfigError('[audit] privacy mode "hashed" needs privacy.key');
    }
    return hmacOf(this.#key, value);
  }

  #text(value: string, max: number): string {
    this.#size += value.length;
    const s = this.#scrubber ? this.#scrubber.scrub(value) : value;
    return capString(s, max);
  }

  #typeMode(type: string): PrivacyMode {
    let best: [string, PrivacyMode] | undefined;
    for (const entry of this.#types) {
      if (!ruleCovers(entry[0], type)) continue;
      // The most specific rule wins: an exact type over a prefix, a longer prefix over a shorter one.
      if (
        !best ||
        entry[0].length > best[0].length ||
        (!entry[0].includes("*") && best[0].includes("*"))
      )
        best = entry;
    }
    return best ? best[1] : this.#mode;
  }

  #fieldRule(type: string, path: string[]): PrivacyMode | undefined {
    let found: PrivacyMode | undefined;
    for (const f of this.#fields) {
      if (f.type !== undefined && !ruleCovers(f.type, type)) continue;
      if (f.path.length === path.length && f.path.every((p, i) => p === path[i])) found = f.mode;
    }
    return found;
  }

  #hasDeeperRule(type: string, path: string[]): boolean {
    return this.#fields.some(
      (f) =>
        (f.type === undefined || ruleCovers(f.type, type)) &&
        f.path.length > path.length &&
        path.every((p, i) => f.path[i] === p),
    );
  }

  #applyFields(
    type: string,
    path: string[],
    value: JsonValue,
    inherited: PrivacyMode,
  ): JsonValue | undefined {
    const mode = this.#fieldRule(type, path) ?? inherited;
    if (
      value !== null &&
      typeof value === "object" &&
      !Array.isArray(value) &&
      this.#hasDeeperRule(type, path)
    ) {
      const out: Record<string, JsonValue> = {};
      for (const [k, v] of Object.entries(value)) {
        const r = this.#applyFields(type, [...path, k], v, mode);
        if (r !== undefined) out[k] = r;
      }
      return out;
    }
    return this.#applyMode(value, mode);
  }

  #applyMode(value: JsonValue, mode: PrivacyMode): JsonValue | undefined {
    switch (mode) {
      case "full":
        return value;
      case "none":
        return undefined;
      case "keys-only":
        return mapLeaves(value, () => REDACTED);
      case "hashed":
        return mapLeaves(value, (leaf) => this.hashValue(leaf));
    }
  }

  // A checkpoint's integrity fields stay byte for byte; everything else in it is cleaned.
  #cleanCheckpoint(data: Record<string, JsonValue>): Record<string, JsonValue> {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(data)) {
      if (
        CHECKPOINT_INTEGRITY_FIELDS.has(k) &&
        typeof v === "string" &&
        looksLikeIntegrityMaterial(v)
      ) {
        out[k] = v;
        continue;
      }
      this.#put(out, k, v, this.#maxString);
    }
    return out;
  }

  // Scrubs secrets, then caps string lengths, in one walk. Scrubbing first means a secret is never
  // cut in half by the cap and left recognisable to a reader but not to the detectors.
  #clean(value: JsonValue, maxString: number): JsonValue {
    this.#size += 8;
    if (typeof value === "string") return this.#text(value, maxString);
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((v) => this.#clean(v, maxString));
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) this.#put(out, k, v, maxString);
    return out;
  }

  #put(out: Record<string, JsonValue>, k: string, v: JsonValue, maxString: number): void {
    // A secret can be a key too (a token used as a Map key); a cleaned key that collides with
    // one already there gets a suffix rather than overwriting it.
    let key = this.#cleanKey(k);
    if (key !== k && Object.hasOwn(out, key)) {
      let n = 2;
      while (Object.hasOwn(out, `${key}#${n}`)) n++;
      key = `${key}#${n}`;
    }
    // A secret-named key hides any non-numeric value; counts such as inputTokens stay numbers.
    const secretKey = this.#scrubber?.isSecretKey(k) === true;
    if (secretKey && typeof v !== "number" && typeof v !== "boolean" && v !== null)
      out[key] = "[REDACTED]";
    else out[key] = this.#clean(v, maxString);
  }

  #cleanKey(k: string): string {
    this.#size += k.length;
    const known = this.#keyCache.get(k);
    if (known !== undefined) return known;
    const scrubbed = this.#scrubber ? this.#scrubber.scrub(k) : k;
    const capped = capString(scrubbed, this.#maxString);
    if (this.#keyCache.size < 10_000 && k.length <= 256) this.#keyCache.set(k, capped);
    return capped;
  }

  #cap(data: Record<string, JsonValue>): Record<string, JsonValue> {
    // The walk counted characters and punctuation; JSON of that can exceed it only by escapes and
    // multi-byte characters, so far below the cap the exact measure is not needed.
    if (this.#size * 3 < this.#maxBytes) return data;
    if (jsonBytes(data) <= this.#maxBytes) return data;
    let out = data;
    let text = JSON.stringify(data);
    for (let max = Math.floor(this.#maxString / 4); max >= 64; max = Math.floor(max / 4)) {
      out = this.#clean(data, max) as Record<string, JsonValue>;
      text = JSON.stringify(out);
      if (Buffer.byteLength(text) <= this.#maxBytes) return out;
    }
    return {
      $truncated: true,
      originalBytes: jsonBytes(data),
      preview: cutString(text, Math.floor(this.#maxBytes / 4)),
    };
  }
}
