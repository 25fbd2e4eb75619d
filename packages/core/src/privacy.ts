import { createHmac } from "node:crypto";
import { AuditConfigError } from "./errors.js";
import type { AuditEvent } from "./event.js";
import type { JsonValue } from "./normalize.js";

/**
 * How payload values (tool args, inputs, outputs, results, params, model content) are kept:
 * `full` as they are; `keys-only` with the structure kept and every value replaced by
 * `"<redacted>"`; `hashed` with every value replaced by its keyed HMAC-SHA-256 (equal values stay
 * comparable, guessable values stay unguessable without the key); `none` dropped entirely.
 */
export type PrivacyMode = "full" | "keys-only" | "hashed" | "none";

/** Privacy settings of an auditor. Secret scrubbing and size caps apply in every mode. */
export interface PrivacyOptions {
  /**
   * The mode for payload values.
   * @default "full"
   */
  mode?: PrivacyMode;
  /** Per event type (exact, or a `"tool.*"` prefix pattern): a mode for that type's payload values. */
  types?: Record<string, PrivacyMode>;
  /**
   * Per field, as a dotted path inside `data` (`"args.query"`, `"result"`), optionally limited to
   * one type (`"tool.start:args.password"`). A field rule beats a type rule, which beats `mode`.
   */
  fields?: Record<string, PrivacyMode>;
  /** Key for `hashed` mode (at least 16 bytes). Required when any rule uses `hashed`. */
  key?: string | Uint8Array;
  /**
   * Keep the content of model calls (`input` / `output` of `llm.*` events). Off by default: prompts
   * and completions are the most sensitive thing an agent handles.
   * @default false
   */
  captureContent?: boolean;
  /**
   * Secret scrubbing: `true` (the built-in detectors), `false` (off — not recommended), or extra
   * detectors on top of the built-in ones.
   * @default true
   */
  scrub?: boolean | { patterns?: { name: string; pattern: RegExp }[]; keys?: RegExp };
  /**
   * The longest string kept anywhere in the payload.
   * @default 8192
   */
  maxStringLength?: number;
  /**
   * The largest payload, in bytes of JSON; a larger one is cut down (long strings first).
   * @default 65536
   */
  maxEventBytes?: number;
}

/** The replacement of a value in `keys-only` mode. */
export const REDACTED = "<redacted>";

/** Payload fields that hold content and follow the privacy mode; other fields are metadata. */
export const CONTENT_FIELDS: readonly string[] = [
  "args",
  "input",
  "output",
  "result",
  "params",
  "options",
];

/** A detector of secrets inside strings. */
export interface SecretPattern {
  name: string;
  pattern: RegExp;
}

/** The built-in secret detectors. Each match is replaced by `[REDACTED:<name>]`. */
export const SECRET_PATTERNS: readonly SecretPattern[] = [
  {
    name: "private-key",
    pattern:
      /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|$)/g,
  },
  { name: "jwt", pattern: /\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}/g },
  { name: "bearer-token", pattern: /\b((?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/-]{8,}=*/gi },
  { name: "anthropic-key", pattern: /\bsk-ant-[A-Za-z0-9_-]{16,}/g },
  { name: "openai-key", pattern: /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g },
  { name: "stripe-key", pattern: /\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}/g },
  { name: "aws-access-key", pattern: /\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b/g },
  { name: "aws-secret-key", pattern: /(aws_secret_access_key\s*[=:]\s*["']?)[A-Za-z0-9/+=]{40}/gi },
  {
    name: "github-token",
    pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})/g,
  },
  { name: "gitlab-token", pattern: /\bglpat-[A-Za-z0-9_-]{20,}/g },
  { name: "google-api-key", pattern: /\bAIza[0-9A-Za-z_-]{35}/g },
  { name: "slack-token", pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g },
  { name: "huggingface-token", pattern: /\bhf_[A-Za-z0-9]{30,}/g },
  { name: "url-password", pattern: /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+(@)/gi },
  {
    name: "secret-assignment",
    pattern:
      /(\b(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?token|refresh[_-]?token|client[_-]?secret)\s*[=:]\s*["']?)[^\s"'&,;]{3,}/gi,
  },
];

// Every built-in detector needs one of these substrings: one test rules out most strings at once.
const SECRET_HINT =
  /sk-|[sprk]k_|AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat_|glpat-|AIza|xox|hf_|eyJ|PRIVATE KEY|bearer|basic|token|:\/\/|pass|pwd|secret|api[_-]?key|aws_/i;

/** Object keys whose string values are secrets whatever they look like. */
export const SECRET_KEY_PATTERN =
  /^(?:.*[_-])?(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|client[_-]?secret|authorization|auth|cookie|set-cookie|credentials?|session[_-]?token|refresh[_-]?token|access[_-]?token|id[_-]?token|x-api-key)$/i;

const CAMEL_SECRET =
  /(?:Password|Secret|Token|ApiKey|AccessKey|PrivateKey|Credential|Credentials|Cookie)$/;

/** True for an object key whose (string) value must be redacted, e.g. `password`, `apiKey`, `x-api-key`. */
export function isSecretKey(key: string): boolean {
  let known = secretKeyCache.get(key);
  if (known === undefined) {
    known = SECRET_KEY_PATTERN.test(key) || CAMEL_SECRET.test(key);
    // Payload keys repeat from event to event; the cache stays small for any sane schema.
    if (secretKeyCache.size < 10_000) secretKeyCache.set(key, known);
  }
  return known;
}

const secretKeyCache = new Map<string, boolean>();

/**
 * Replaces every secret the detectors find in `text` with `[REDACTED:<name>]`. A detector's first
 * capture group (such as `password=`) and second (the `@` of a URL) are kept around the mark.
 */
export function scrubString(
  text: string,
  patterns: readonly SecretPattern[] = SECRET_PATTERNS,
): string {
  if (patterns === SECRET_PATTERNS && !SECRET_HINT.test(text)) return text;
  let out = text;
  for (const { name, pattern } of patterns) {
    pattern.lastIndex = 0;
    if (!pattern.test(out)) continue;
    pattern.lastIndex = 0;
    out = out.replace(pattern, (_match: string, ...args: unknown[]) => {
      // After the capture groups come the offset (a number) and the whole string.
      const groups = args.slice(
        0,
        args.findIndex((a) => typeof a === "number"),
      );
      const before = typeof groups[0] === "string" ? groups[0] : "";
      const after = typeof groups[1] === "string" ? groups[1] : "";
      return `${before}[REDACTED:${name}]${after}`;
    });
  }
  return out;
}

function modeFor(pattern: string, type: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/**
 * Applies privacy to event payloads: secret scrubbing (every string and every secret-named key,
 * in all modes, errors and nested values included), the mode of each content field, model-content
 * capture, and size caps. Used by the auditor before events are hashed, stored or exported.
 */
export class PrivacyFilter {
  readonly #mode: PrivacyMode;
  readonly #types: [string, PrivacyMode][];
  readonly #fields: { type?: string; path: string[]; mode: PrivacyMode }[];
  readonly #key: Buffer | undefined;
  readonly #captureContent: boolean;
  readonly #patterns: readonly SecretPattern[] | undefined;
  readonly #extraKeys: RegExp | undefined;
  readonly #maxString: number;
  readonly #maxBytes: number;
  // Characters seen by the last #clean walk: a cheap upper estimate of the payload's size.
  #size = 0;

  constructor(options: PrivacyOptions = {}) {
    const modes: PrivacyMode[] = ["full", "keys-only", "hashed", "none"];
    const check = (m: unknown, where: string): PrivacyMode => {
      if (!modes.includes(m as PrivacyMode)) {
        throw new AuditConfigError(
          `[audit] privacy ${where}: mode must be one of ${modes.join(", ")}, got ${JSON.stringify(m)}`,
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
    this.#patterns =
      scrub === false
        ? undefined
        : scrub === true
          ? SECRET_PATTERNS
          : [...SECRET_PATTERNS, ...(scrub.patterns ?? [])];
    this.#extraKeys = typeof scrub === "object" ? scrub.keys : undefined;
    this.#maxString = options.maxStringLength ?? 8192;
    this.#maxBytes = options.maxEventBytes ?? 65_536;
    if (!(this.#maxString >= 16) || !(this.#maxBytes >= 256)) {
      throw new AuditConfigError(
        "[audit] privacy.maxStringLength must be ≥ 16 and maxEventBytes ≥ 256",
      );
    }
  }

  /** The privacy-processed copy of an event's payload. */
  apply(event: AuditEvent): AuditEvent {
    const type = event.type;
    this.#size = 0;
    const data = this.#clean(event.data as Record<string, JsonValue>, this.#maxString) as Record<
      string,
      JsonValue
    >;
    const typeMode = this.#typeMode(type);
    const dropContent = !this.#captureContent && type.startsWith("llm.");
    if (typeMode === "full" && this.#fields.length === 0 && !dropContent) {
      return { ...event, data: this.#cap(data) };
    }
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(data)) {
      let mode: PrivacyMode = CONTENT_FIELDS.includes(k) ? typeMode : "full";
      if (dropContent && (k === "input" || k === "output")) mode = "none";
      const value = this.#applyFields(type, [k], v, mode);
      if (value !== undefined) out[k] = value;
    }
    return { ...event, data: this.#cap(out) };
  }

  #typeMode(type: string): PrivacyMode {
    let best: [string, PrivacyMode] | undefined;
    for (const entry of this.#types) {
      if (!modeFor(entry[0], type)) continue;
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
      if (f.type !== undefined && !modeFor(f.type, type)) continue;
      if (f.path.length === path.length && f.path.every((p, i) => p === path[i])) found = f.mode;
    }
    return found;
  }

  #hasDeeperRule(type: string, path: string[]): boolean {
    return this.#fields.some(
      (f) =>
        (f.type === undefined || modeFor(f.type, type)) &&
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

  /** The keyed hash that `hashed` mode writes for a value: `"hmac-sha256:<hex>"`. */
  hashValue(value: JsonValue): string {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return `hmac-sha256:${createHmac("sha256", this.#key!).update(text).digest("hex").slice(0, 32)}`;
  }

  // Scrubs secrets, then caps string lengths, in one walk. Scrubbing first means a secret is never
  // cut in half by the cap and left recognisable to a reader but not to the detectors.
  #clean(value: JsonValue, maxString: number): JsonValue {
    this.#size += 8;
    if (typeof value === "string") {
      this.#size += value.length;
      const s = this.#patterns ? scrubString(value, this.#patterns) : value;
      return s.length <= maxString
        ? s
        : `${s.slice(0, maxString)}…[truncated ${s.length - maxString} chars]`;
    }
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((v) => this.#clean(v, maxString));
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) {
      this.#size += k.length;
      // A secret-named key hides any non-numeric value; counts such as inputTokens stay numbers.
      const secretKey =
        this.#patterns !== undefined && (isSecretKey(k) || this.#extraKeys?.test(k) === true);
      if (secretKey && typeof v !== "number" && typeof v !== "boolean" && v !== null)
        out[k] = "[REDACTED]";
      else out[k] = this.#clean(v, maxString);
    }
    return out;
  }

  #cap(data: Record<string, JsonValue>): Record<string, JsonValue> {
    // The walk counted characters and punctuation; JSON of that can exceed it only by escapes and
    // multi-byte characters, so far below the cap the exact measure is not needed.
    if (this.#size * 3 < this.#maxBytes) return data;
    let text = JSON.stringify(data);
    if (Buffer.byteLength(text) <= this.#maxBytes) return data;
    let out = data;
    for (let max = Math.floor(this.#maxString / 4); max >= 64; max = Math.floor(max / 4)) {
      out = this.#clean(data, max) as Record<string, JsonValue>;
      text = JSON.stringify(out);
      if (Buffer.byteLength(text) <= this.#maxBytes) return out;
    }
    const originalBytes = Buffer.byteLength(JSON.stringify(data));
    return {
      $truncated: true,
      originalBytes,
      preview: text.slice(0, Math.floor(this.#maxBytes / 4)),
    };
  }
}

function mapLeaves(value: JsonValue, f: (leaf: JsonValue) => JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map((v) => mapLeaves(v, f));
  if (value !== null && typeof value === "object") {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = mapLeaves(v, f);
    return out;
  }
  return f(value);
}
