import { createHmac } from "node:crypto";
import type { JsonValue } from "../normalize.js";

/**
 * How payload values (tool args, inputs, outputs, results, params, errors, model content) are
 * kept: `full` as they are; `keys-only` with the structure kept and every value replaced by
 * `"<redacted>"`; `hashed` with every value replaced by its keyed HMAC-SHA-256 over the
 * type-tagged value (equal values stay comparable, `1` and `"1"` differ, guessable values stay
 * unguessable without the key); `none` dropped entirely.
 */
export type PrivacyMode = "full" | "keys-only" | "hashed" | "none";

/** A user's secret detector: every match (whatever its flags and groups) is redacted. */
export interface SecretPattern {
  /** Shown in the mark: `[REDACTED:<name>]`. */
  name: string;
  /**
   * Checked when the auditor is configured: it must run in linear time (bounded counts such as
   * `{1,64}` instead of `+` or `*`, no nested repetition, no back-references or lookaround).
   */
  pattern: RegExp;
}

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
   * detectors on top of the built-in ones: `patterns` (checked for linear time when the auditor
   * is configured; every match is redacted) and `keys` (object keys whose values are redacted).
   * @default true
   */
  scrub?: boolean | { patterns?: SecretPattern[]; keys?: RegExp };
  /**
   * The longest string kept anywhere in the event (payload values, keys, envelope fields).
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

/**
 * Payload fields that hold content and follow the privacy mode; other fields are metadata. Error
 * fields are content: a message or a stack often quotes the arguments that failed.
 */
export const CONTENT_FIELDS: readonly string[] = [
  "args",
  "input",
  "output",
  "result",
  "params",
  "options",
  "error",
  "message",
  "stack",
];

/** The modes, for validating configuration. */
export const PRIVACY_MODES: readonly PrivacyMode[] = ["full", "keys-only", "hashed", "none"];

/**
 * The text `hashed` mode feeds to HMAC-SHA-256 for a leaf value: its JSON type, a colon, then its
 * JSON text — `string:"1"`, `number:1`, `boolean:true`, `null:null` — so values of different
 * types never share a hash.
 */
export function typeTagged(value: JsonValue): string {
  const type = value === null ? "null" : typeof value;
  return `${type}:${JSON.stringify(value)}`;
}

/** `"hmac-sha256:<first 32 hex digits>"` of the type-tagged value under `key`. */
export function hmacOf(key: Buffer, value: JsonValue): string {
  const digest = createHmac("sha256", key).update(typeTagged(value), "utf8").digest("hex");
  return `hmac-sha256:${digest.slice(0, 32)}`;
}

/** The value with every leaf replaced by `f(leaf)`, the structure kept. */
export function mapLeaves(value: JsonValue, f: (leaf: JsonValue) => JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map((v) => mapLeaves(v, f));
  if (value !== null && typeof value === "object") {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = mapLeaves(v, f);
    return out;
  }
  return f(value);
}

/** Whether a mode rule (`"*"`, `"tool.*"`, `"tool.start"`) covers an event type. */
export function ruleCovers(rule: string, type: string): boolean {
  if (rule === "*") return true;
  if (rule.endsWith(".*")) return type.startsWith(rule.slice(0, -1));
  return rule === type;
}
