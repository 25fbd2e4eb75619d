import { isSecretName } from "./secret-names.js";

// The built-in secret detectors, as one hand-written scanner instead of regular expressions:
// backtracking engines take quadratic or exponential time on crafted text for patterns like the
// JWT and URL-password ones this replaces. Every loop below moves forward, and the few that look
// back are bounded by where the previous separator was, so each character is visited a constant
// number of times: the cost is linear in the text whatever it holds.

/** A built-in secret detector: its name (used in `[REDACTED:<name>]`) and what it finds. */
export interface SecretDetector {
  readonly name: string;
  readonly finds: string;
}

/** The built-in secret detectors. Each finding is replaced by `[REDACTED:<name>]`. */
export const SECRET_PATTERNS: readonly SecretDetector[] = [
  { name: "private-key", finds: "PEM private key blocks (-----BEGIN … PRIVATE KEY----- to END)" },
  { name: "jwt", finds: "JSON Web Tokens (eyJ….eyJ….signature), signed or not" },
  { name: "bearer-token", finds: "credentials after Bearer or Basic anywhere in text" },
  { name: "anthropic-key", finds: "sk-ant-…" },
  { name: "openai-key", finds: "sk-…, sk-proj-…, sk-svcacct-…" },
  { name: "stripe-key", finds: "sk_live_…, sk_test_…, rk_live_…, rk_test_…, pk_live_…" },
  { name: "aws-access-key", finds: "AKIA…, ASIA…, ABIA…, ACCA… (20 characters)" },
  { name: "github-token", finds: "ghp_…, gho_…, ghu_…, ghs_…, ghr_…, github_pat_…" },
  { name: "gitlab-token", finds: "glpat-…" },
  { name: "google-api-key", finds: "AIza… (39 characters)" },
  { name: "slack-token", finds: "xoxb-…, xoxp-…, xoxa-…, xoxo-…, xoxs-…, xoxr-…, xapp-…" },
  { name: "huggingface-token", finds: "hf_…" },
  { name: "npm-token", finds: "npm_…" },
  {
    name: "url-password",
    finds: "the password of a URL's userinfo (scheme://user:pass@host, scheme://:pass@host)",
  },
  {
    name: "secret-assignment",
    finds:
      "the value after a secret name and = or : — env lines (DB_PASSWORD=…), query parameters (token=, api_key=, sig=), JSON text, HTTP headers (Authorization, Cookie, Set-Cookie), passphrases after password: up to the end of the line",
  },
];

/** Receives a range `[start, end)` of `text` to replace with `[REDACTED:<name>]`. */
export type Mark = (start: number, end: number, name: string) => void;

type CharTest = (c: number) => boolean;

// One lookup per character: a class table for ASCII (everything above is in no class here).
const DIGIT = 1;
const UPPER = 2;
const LOWER = 4;
const UNDERSCORE = 8;
const DASH = 16;
const DOT = 32;
const TOKEN68_EXTRA = 64; // ~ + / =
const BLANK = 128;
const CLASSES = new Uint8Array(128);
for (let c = 48; c <= 57; c++) CLASSES[c] = DIGIT;
for (let c = 65; c <= 90; c++) CLASSES[c] = UPPER;
for (let c = 97; c <= 122; c++) CLASSES[c] = LOWER;
CLASSES[0x5f] = UNDERSCORE;
CLASSES[0x2d] = DASH;
CLASSES[0x2e] = DOT;
for (const c of [0x7e, 0x2b, 0x2f, 0x3d]) CLASSES[c] = TOKEN68_EXTRA;
CLASSES[0x20] = BLANK;
CLASSES[0x09] = BLANK;

const classOf = (c: number): number => (c < 128 ? CLASSES[c]! : 0);
const WORD = DIGIT | UPPER | LOWER | UNDERSCORE;

const isAlnum: CharTest = (c) => (classOf(c) & (DIGIT | UPPER | LOWER)) !== 0;
const isUpperAlnum: CharTest = (c) => (classOf(c) & (DIGIT | UPPER)) !== 0;
/** `\w` of regular expressions. */
const isWord: CharTest = (c) => (classOf(c) & WORD) !== 0;
const isBase64Url: CharTest = (c) => (classOf(c) & (WORD | DASH)) !== 0;
const isAlnumDash: CharTest = (c) => (classOf(c) & (DIGIT | UPPER | LOWER | DASH)) !== 0;
/** Characters of a name before `=` or `:` (`DB_PASSWORD`, `x-api-key`, `client.secret`). */
const isNameChar: CharTest = (c) => (classOf(c) & (WORD | DASH | DOT)) !== 0;
/** RFC 6750 token68 and Basic credentials. */
const isToken68: CharTest = (c) => (classOf(c) & (WORD | DASH | DOT | TOKEN68_EXTRA)) !== 0;
const isBlank: CharTest = (c) => (classOf(c) & BLANK) !== 0;
const isSpace: CharTest = (c) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c;
const isQuote: CharTest = (c) => c === 0x22 || c === 0x27 || c === 0x60;
const isLineEnd: CharTest = (c) => c === 0x0a || c === 0x0d;

interface TokenRule {
  name: string;
  prefix: string;
  body: CharTest;
  min: number;
  /** A fixed body length that must end at a word boundary (AWS key ids). */
  exact?: boolean;
}

const TOKEN_RULES: TokenRule[] = [
  { name: "anthropic-key", prefix: "sk-ant-", body: isBase64Url, min: 16 },
  { name: "openai-key", prefix: "sk-", body: isBase64Url, min: 20 },
  ...["sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_"].map((prefix) => ({
    name: "stripe-key",
    prefix,
    body: isAlnum,
    min: 16,
  })),
  ...["AKIA", "ASIA", "ABIA", "ACCA"].map((prefix) => ({
    name: "aws-access-key",
    prefix,
    body: isUpperAlnum,
    min: 16,
    exact: true,
  })),
  ...["ghp_", "gho_", "ghu_", "ghs_", "ghr_"].map((prefix) => ({
    name: "github-token",
    prefix,
    body: isAlnum,
    min: 36,
  })),
  { name: "github-token", prefix: "github_pat_", body: isWord, min: 22 },
  { name: "gitlab-token", prefix: "glpat-", body: isBase64Url, min: 20 },
  { name: "google-api-key", prefix: "AIza", body: isBase64Url, min: 35 },
  ...["xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxs-", "xoxr-", "xapp-"].map((prefix) => ({
    name: "slack-token",
    prefix,
    body: isAlnumDash,
    min: 10,
  })),
  { name: "huggingface-token", prefix: "hf_", body: isAlnum, min: 30 },
  { name: "npm-token", prefix: "npm_", body: isAlnum, min: 36 },
];

// Rules by the first character of their prefix, so most word starts cost one array lookup (a
// dense array: a missing index of a holey one is a slow prototype lookup).
const NO_RULES: TokenRule[] = [];
const RULES_BY_FIRST: TokenRule[][] = Array.from({ length: 128 }, () => NO_RULES);
for (const rule of TOKEN_RULES) {
  const c = rule.prefix.charCodeAt(0);
  RULES_BY_FIRST[c] = [...RULES_BY_FIRST[c]!, rule];
}

function runEnd(text: string, from: number, test: CharTest, limit = text.length): number {
  let j = from;
  while (j < limit && test(text.charCodeAt(j))) j++;
  return j;
}

function startsWithIgnoreCase(text: string, at: number, lowerWord: string): boolean {
  if (at + lowerWord.length > text.length) return false;
  for (let k = 0; k < lowerWord.length; k++) {
    if ((text.charCodeAt(at + k) | 0x20) !== lowerWord.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * A known token at word start `i`: returns where it ends (marked), or -1. A failed attempt reads
 * fewer than the rule's minimum characters; a success consumes what it read.
 */
function token(text: string, i: number, mark: Mark): number {
  const c = text.charCodeAt(i);
  if (c >= 128) return -1;
  const rules = RULES_BY_FIRST[c]!;
  if (rules.length === 0) return -1;
  const second = text.charCodeAt(i + 1);
  for (const rule of rules) {
    if (rule.prefix.charCodeAt(1) !== second || !text.startsWith(rule.prefix, i)) continue;
    const from = i + rule.prefix.length;
    if (rule.exact) {
      const end = runEnd(text, from, rule.body, Math.min(text.length, from + rule.min));
      if (end - from === rule.min && (end === text.length || !isWord(text.charCodeAt(end)))) {
        mark(i, end, rule.name);
        return end;
      }
      continue;
    }
    const end = runEnd(text, from, rule.body);
    if (end - from >= rule.min) {
      mark(i, end, rule.name);
      return end;
    }
  }
  return -1;
}

/** `Bearer <token>` / `Basic <credentials>` at word start `i`. */
function scheme(text: string, i: number, mark: Mark): number {
  const c = text.charCodeAt(i) | 0x20;
  const word = c === 0x62 /* b */ ? (startsWithIgnoreCase(text, i, "bearer") ? 6 : 0) : 0;
  const basic = word === 0 && c === 0x62 && startsWithIgnoreCase(text, i, "basic") ? 5 : 0;
  const len = word || basic;
  if (len === 0) return -1;
  const after = i + len;
  if (after >= text.length || !isBlank(text.charCodeAt(after))) return -1;
  const from = runEnd(text, after, isBlank);
  const end = runEnd(text, from, isToken68);
  if (end - from < 8) return -1;
  mark(from, end, "bearer-token");
  return end;
}

/**
 * A JWT at `i` (starting `eyJ`): header and payload segments, the signature if any. Returns where
 * the scan may go on; `noJwtBefore` receives the end of a failed first segment, because every
 * `eyJ` inside it would fail the same way.
 */
function jwt(text: string, i: number, mark: Mark): { end: number; failedRunEnd: number } {
  const first = runEnd(text, i, isBase64Url);
  if (first - i >= 10 && text.charCodeAt(first) === 0x2e) {
    const second = runEnd(text, first + 1, isBase64Url);
    if (second - first - 1 >= 4) {
      let end = second;
      if (text.charCodeAt(second) === 0x2e) end = runEnd(text, second + 1, isBase64Url);
      mark(i, end, "jwt");
      return { end, failedRunEnd: -1 };
    }
  }
  return { end: -1, failedRunEnd: first };
}

/**
 * The password of a URL's userinfo; `from` is where the authority starts, right after `//` (of
 * `scheme://` or a scheme-relative `//user:pass@host`). Returns where the scan may go on:
 * authorities end at `/`, so two of them never overlap.
 */
function urlPassword(text: string, from: number, mark: Mark): number {
  let i = from;
  let firstColon = -1;
  let lastAt = -1;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (
      c === 0x2f ||
      c === 0x3f ||
      c === 0x23 ||
      isSpace(c) ||
      isQuote(c) ||
      c === 0x3c ||
      c === 0x3e ||
      c === 0x5c
    )
      break;
    if (c === 0x3a && firstColon < 0) firstColon = i;
    else if (c === 0x40) lastAt = i;
  }
  if (firstColon >= 0 && lastAt > firstColon + 1) {
    mark(firstColon + 1, lastAt, "url-password");
    return lastAt;
  }
  return from;
}

/**
 * The value after a secret name at separator `s` (`=` or `:`); `floor` bounds the look back, so
 * no character is looked at twice. Returns where the scan may go on, or -1.
 */
function assignment(text: string, s: number, floor: number, mark: Mark): number {
  let k = s - 1;
  while (k >= floor && isBlank(text.charCodeAt(k))) k--;
  let keyQuoted = false;
  if (k >= floor && isQuote(text.charCodeAt(k))) {
    keyQuoted = true;
    k--;
    if (k >= floor && text.charCodeAt(k) === 0x5c) k--;
  }
  const keyEnd = k + 1;
  while (k >= floor && isNameChar(text.charCodeAt(k))) k--;
  const keyStart = k + 1;
  if (keyEnd - keyStart < 3 || keyEnd - keyStart > 128) return -1;
  const key = text.slice(keyStart, keyEnd);
  if (!isSecretName(key, true)) return -1;
  let from = s + 1;
  if (key.toLowerCase().endsWith("authorization")) {
    // Keep the scheme (`Bearer`, `Basic`, `AWS4-HMAC-SHA256`, …): it says what was sent, not what.
    const schemeStart = runEnd(text, from, isBlank);
    const schemeEnd = runEnd(text, schemeStart, isNameChar);
    if (schemeEnd > schemeStart && isBlank(text.charCodeAt(schemeEnd))) from = schemeEnd;
  }
  return value(text, from, text.charCodeAt(s), keyQuoted, mark);
}

function value(text: string, from: number, sep: number, keyQuoted: boolean, mark: Mark): number {
  const n = text.length;
  let i = runEnd(text, from, isBlank);
  if (i >= n) return -1;
  let c = text.charCodeAt(i);
  let escapedQuote = false;
  if (c === 0x5c && i + 1 < n && isQuote(text.charCodeAt(i + 1))) {
    escapedQuote = true;
    i++;
    c = text.charCodeAt(i);
  }
  if (isQuote(c)) {
    const start = i + 1;
    let j = start;
    while (j < n) {
      const d = text.charCodeAt(j);
      if (isLineEnd(d) || d === c) break;
      if (d === 0x5c) {
        // A value inside JSON held in a string ends at the escaped quote that opened it.
        if (escapedQuote && text.charCodeAt(j + 1) === c) break;
        j += 2;
        continue;
      }
      j++;
    }
    j = Math.min(j, n);
    if (j > start) mark(start, j, "secret-assignment");
    return j;
  }
  let j = i;
  if (sep === 0x3a && !keyQuoted) {
    // `password: correct horse battery staple`, `Cookie: a=1; b=2`: the rest of the line.
    while (j < n && !isLineEnd(text.charCodeAt(j))) j++;
    while (j > i && isBlank(text.charCodeAt(j - 1))) j--;
  } else if (sep === 0x3a) {
    while (j < n) {
      const d = text.charCodeAt(j);
      if (isSpace(d) || d === 0x2c || d === 0x7d || d === 0x5d) break;
      j++;
    }
  } else {
    while (j < n) {
      const d = text.charCodeAt(j);
      if (
        isSpace(d) ||
        isQuote(d) ||
        d === 0x26 ||
        d === 0x3b ||
        d === 0x2c ||
        d === 0x3c ||
        d === 0x3e ||
        d === 0x28 ||
        d === 0x29 ||
        d === 0x5b ||
        d === 0x5d ||
        d === 0x7b ||
        d === 0x7d ||
        d === 0x5c
      )
        break;
      j++;
    }
  }
  if (j > i) mark(i, j, "secret-assignment");
  return Math.max(j, i);
}

/** PEM private-key blocks, found with `indexOf`; an unterminated block runs to the end. */
function privateKeys(text: string, mark: Mark): void {
  let at = text.indexOf("-----BEGIN ");
  while (at >= 0) {
    const headerStart = at + 11;
    const headerEnd = runEnd(
      text,
      headerStart,
      (c) => isUpperAlnum(c) || c === 0x20,
      Math.min(text.length, headerStart + 64),
    );
    const header = text.slice(headerStart, headerEnd);
    if (header.includes("PRIVATE KEY") && text.startsWith("-----", headerEnd)) {
      const endMarker = text.indexOf("-----END ", headerEnd + 5);
      let end = text.length;
      if (endMarker >= 0) {
        const close = text.indexOf("-----", endMarker + 9);
        end = close >= 0 && close - endMarker < 80 ? close + 5 : endMarker + 9;
      }
      mark(at, end, "private-key");
      at = text.indexOf("-----BEGIN ", end);
    } else {
      at = text.indexOf("-----BEGIN ", headerEnd);
    }
  }
}

// Every finding needs one of these: a separator (assignments, URLs), a PEM header, or a word
// starting like a token prefix, Bearer/Basic or eyJ. Most strings hold none, and this native test
// (alternatives of short literals, proven linear by recheck in the tests) rules them out about
// three times faster than the scanner's loop would.
const TRIGGER =
  /[:=/]|-----BEGIN |\b(?:sk[-_]|[rp]k_|gh[pousr]_|github_pat_|glpat-|AIza|A[KS]IA|ABIA|ACCA|xox[abposr]-|xapp-|hf_|npm_|eyJ|[Bb][Ee][Aa][Rr][Ee][Rr]|[Bb][Aa][Ss][Ii][Cc])/;

/** False for text no built-in detector can find anything in (most strings); cheap and linear. */
export function mayHoldSecret(text: string): boolean {
  return text.length >= 8 && TRIGGER.test(text);
}

/** Runs every built-in detector over `text`, reporting each finding to `mark`. Linear time. */
export function scanSecrets(text: string, mark: Mark): void {
  if (!mayHoldSecret(text)) return;
  privateKeys(text, mark);
  const n = text.length;
  let floor = 0;
  let noJwtBefore = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    // The table lookups are written out here: this loop runs once per character of every string.
    if (c < 128 && (CLASSES[c]! & WORD) !== 0) {
      const prev = i === 0 ? 0 : text.charCodeAt(i - 1);
      if (prev >= 128 || (CLASSES[prev]! & WORD) === 0) {
        // Only a word starting like a token prefix, `b` (Bearer, Basic) or `e` (eyJ) can be a finding.
        if (RULES_BY_FIRST[c]!.length > 0 || (c | 0x20) === 0x62 || c === 0x65) {
          let end = token(text, i, mark);
          if (end < 0 && (c | 0x20) === 0x62) end = scheme(text, i, mark);
          if (end < 0 && c === 0x65 && i >= noJwtBefore && text.startsWith("eyJ", i)) {
            const r = jwt(text, i, mark);
            end = r.end;
            if (r.failedRunEnd >= 0) noJwtBefore = r.failedRunEnd;
          }
          if (end > i) {
            i = end;
            floor = end;
            continue;
          }
        }
      }
      // The rest of the word cannot start a finding.
      i++;
      for (let d = text.charCodeAt(i); i < n && d < 128 && (CLASSES[d]! & WORD) !== 0; ) {
        i++;
        d = text.charCodeAt(i);
      }
      continue;
    }
    if (c === 0x2f && text.charCodeAt(i + 1) === 0x2f) {
      const end = urlPassword(text, i + 2, mark);
      floor = end;
      i = end;
      continue;
    }
    if (c === 0x3a || c === 0x3d) {
      let end = -1;
      if (c === 0x3a && text.charCodeAt(i + 1) === 0x2f && text.charCodeAt(i + 2) === 0x2f) {
        end = urlPassword(text, i + 3, mark);
      } else {
        end = assignment(text, i, floor, mark);
      }
      if (end > i) {
        i = end;
        floor = end;
        continue;
      }
      floor = i + 1;
    }
    i++;
  }
}
