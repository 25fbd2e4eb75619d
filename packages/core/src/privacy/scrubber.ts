import { AuditConfigError } from "../errors.js";
import type { SecretPattern } from "./modes.js";
import { assertSafePattern } from "./pattern-safety.js";
import { isSecretKey } from "./secret-names.js";
import { mayHoldSecret, scanSecrets } from "./text-scanner.js";

/** Options of a {@link Scrubber}. */
export interface ScrubberOptions {
  /**
   * Run the built-in detectors.
   * @default true
   */
  builtIn?: boolean;
  /** Extra detectors; each is checked for linear time here, and every match is redacted. */
  patterns?: readonly SecretPattern[];
  /** Extra object keys whose values are redacted whatever they hold (checked like patterns). */
  keys?: RegExp;
}

interface Finding {
  start: number;
  end: number;
  name: string;
}

/** `pattern` as a global, non-sticky copy, so that a scan finds every match from the start. */
function globalCopy(pattern: RegExp): RegExp {
  const flags = pattern.flags.replace(/[gy]/g, "");
  return new RegExp(pattern.source, `${flags}g`);
}

/**
 * Finds secrets in text and replaces each with `[REDACTED:<name>]`, in time linear in the text: the
 * built-in detectors are a hand-written scanner, and user patterns are refused at construction
 * unless they are provably linear (see `assertSafePattern`). Overlapping findings merge into one.
 */
export class Scrubber {
  readonly #builtIn: boolean;
  readonly #patterns: { name: string; pattern: RegExp }[];
  readonly #keys: RegExp | undefined;

  /** @throws {AuditConfigError} for a pattern that could backtrack or that matches empty text. */
  constructor(options: ScrubberOptions = {}) {
    this.#builtIn = options.builtIn ?? true;
    this.#patterns = (options.patterns ?? []).map((p, i) => {
      const name = typeof p?.name === "string" && p.name !== "" ? p.name : `pattern-${i + 1}`;
      if (!(p?.pattern instanceof RegExp)) {
        throw new AuditConfigError(`[audit] privacy scrub pattern "${name}" must be a RegExp`);
      }
      assertSafePattern(name, p.pattern);
      return { name, pattern: globalCopy(p.pattern) };
    });
    if (options.keys !== undefined) {
      assertSafePattern("keys", options.keys, "scrub.keys pattern");
      const flags = options.keys.flags.replace(/[gy]/g, "");
      this.#keys = new RegExp(options.keys.source, flags);
    }
  }

  /** `text` with every secret found replaced by `[REDACTED:<name>]`. */
  scrub(text: string): string {
    if (this.#patterns.length === 0 && (!this.#builtIn || !mayHoldSecret(text))) return text;
    const findings: Finding[] = [];
    const mark = (start: number, end: number, name: string) => {
      findings.push({ start, end, name });
    };
    if (this.#builtIn) scanSecrets(text, mark);
    for (const { name, pattern } of this.#patterns) {
      pattern.lastIndex = 0;
      for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
        mark(m.index, m.index + m[0].length, name);
      }
    }
    if (findings.length === 0) return text;
    return replaceFindings(text, findings);
  }

  /** Whether the value under an object key must be redacted whatever it holds. */
  isSecretKey(key: string): boolean {
    return isSecretKey(key) || this.#keys?.test(key) === true;
  }
}

function replaceFindings(text: string, findings: Finding[]): string {
  findings.sort((a, b) => a.start - b.start || b.end - a.end);
  let out = "";
  let at = 0;
  let current: Finding | undefined;
  for (const f of findings) {
    if (current && f.start < current.end) {
      if (f.end > current.end) current.end = f.end;
      continue;
    }
    if (current) {
      out += `${text.slice(at, current.start)}[REDACTED:${current.name}]`;
      at = current.end;
    }
    current = { ...f };
  }
  if (current) {
    out += `${text.slice(at, current.start)}[REDACTED:${current.name}]`;
    at = current.end;
  }
  return out + text.slice(at);
}

const defaultScrubber = new Scrubber();
const scrubbers = new WeakMap<readonly SecretPattern[], Scrubber>();

/**
 * Replaces every secret the built-in detectors (and `patterns`, if given) find in `text` with
 * `[REDACTED:<name>]`. Linear in the length of `text`.
 * @throws {AuditConfigError} for a pattern that could backtrack.
 */
export function scrubString(text: string, patterns?: readonly SecretPattern[]): string {
  if (patterns === undefined || patterns.length === 0) return defaultScrubber.scrub(text);
  let scrubber = scrubbers.get(patterns);
  if (!scrubber) {
    scrubber = new Scrubber({ patterns });
    scrubbers.set(patterns, scrubber);
  }
  return scrubber.scrub(text);
}
