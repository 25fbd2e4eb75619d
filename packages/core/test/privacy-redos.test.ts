import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { checkSync } from "recheck";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { AuditConfigError, PrivacyFilter, Scrubber, scrubString } from "../src/index.js";

// The built-in detectors are a hand-written scanner; the few regular expressions left in the
// privacy code (flag edits, small parsing helpers) are checked here by recheck, a ReDoS checker
// that models the unanchored search a scan does. User patterns are checked when an auditor is
// configured, by core's own rule (bounded repetition, no nested choice); this file also checks
// that rule against recheck's verdicts.

const PRIVACY_DIR = join(import.meta.dirname, "../src/privacy");

/** Every regular expression written in the privacy sources: literals and `new RegExp("…")`. */
function regexesInPrivacySources(): { file: string; source: string; flags: string }[] {
  const found: { file: string; source: string; flags: string }[] = [];
  for (const file of readdirSync(PRIVACY_DIR).filter((f) => f.endsWith(".ts"))) {
    const text = readFileSync(join(PRIVACY_DIR, file), "utf8");
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) {
        const literal = node.getText(sf);
        const end = literal.lastIndexOf("/");
        found.push({ file, source: literal.slice(1, end), flags: literal.slice(end + 1) });
      }
      if (
        ts.isNewExpression(node) &&
        node.expression.getText(sf) === "RegExp" &&
        node.arguments?.[0] &&
        ts.isStringLiteral(node.arguments[0])
      ) {
        found.push({ file, source: node.arguments[0].text, flags: "" });
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found;
}

function recheck(source: string, flags: string) {
  return checkSync(source, flags, { timeout: 20_000 });
}

describe("no backtracking-prone pattern in the privacy code", () => {
  it("finds the regular expressions of the privacy sources, and recheck proves each safe", () => {
    const regexes = regexesInPrivacySources();
    // The helpers that remain: flag edits in the scrubber and two small ones in the pattern check.
    expect(regexes.length).toBeGreaterThanOrEqual(3);
    for (const { file, source, flags } of regexes) {
      const verdict = recheck(source, flags);
      expect(`${file}: /${source}/${flags} → ${verdict.status}`).toBe(
        `${file}: /${source}/${flags} → safe`,
      );
    }
  }, 120_000);

  it("recheck does flag the detectors this replaced (the JWT and URL-password patterns)", () => {
    // Kept here as the regression they are: both froze the event loop on a few tens of KB.
    const url = recheck("(\\b[a-z][a-z0-9+.-]*:\\/\\/[^\\s:/@]+:)[^\\s@/]+(@)", "gi");
    expect(url.status).toBe("vulnerable");
    const jwt = recheck("\\beyJ[A-Za-z0-9_-]{4,}\\.eyJ[A-Za-z0-9_-]{4,}\\.", "g");
    expect(jwt.status).toBe("vulnerable");
  }, 120_000);
});

describe("user patterns are checked when privacy is configured", () => {
  const hostile: [string, string][] = [
    ["(a+)+$", ""],
    ["(a|a)*b", ""],
    ["(\\w+\\s?)*$", ""],
    ["[a-z]+@example\\.com", "g"],
    ["\\w*x", "g"],
    ["(a|ab){1,20}c", ""],
    ["(?:x{1,9}){1,9}y", ""],
    ["^(a?){25}a{25}$", ""],
  ];
  const accepted: [string, string][] = [
    ["\\bEMP-\\d{6}\\b", "g"],
    ["acct_[a-z0-9]{24}", ""],
    ["\\bCUST-(?:eu|us)-\\d{8}\\b", "i"],
    ["\\b(ssn)[ :]\\d{3}-\\d{2}-\\d{4}", ""],
  ];

  it("refuses each hostile pattern with a clear error, and recheck agrees they are vulnerable", () => {
    for (const [source, flags] of hostile) {
      const pattern = new RegExp(source, flags);
      expect(() => new PrivacyFilter({ scrub: { patterns: [{ name: "mine", pattern }] } })).toThrow(
        AuditConfigError,
      );
      expect(() => new PrivacyFilter({ scrub: { patterns: [{ name: "mine", pattern }] } })).toThrow(
        /privacy scrub pattern "mine" .* is refused: .*linear time/,
      );
    }
    // recheck's verdicts, for the patterns it decides within its budget.
    for (const [source, flags] of hostile.slice(0, 5)) {
      expect(`${source} → ${recheck(source, flags).status}`).toBe(`${source} → vulnerable`);
    }
  }, 120_000);

  it("accepts bounded patterns, which recheck proves safe", () => {
    for (const [source, flags] of accepted) {
      const pattern = new RegExp(source, flags);
      expect(() => new Scrubber({ patterns: [{ name: "ok", pattern }] })).not.toThrow();
      expect(`${source} → ${recheck(source, flags).status}`).toBe(`${source} → safe`);
    }
  }, 120_000);

  it("refuses back-references, lookaround, empty matches, and checks scrub.keys the same way", () => {
    const refuse = (pattern: RegExp) =>
      expect(() => new Scrubber({ patterns: [{ name: "p", pattern }] })).toThrow(AuditConfigError);
    refuse(/(a)\1/);
    refuse(/(?<=x)y/);
    refuse(/x(?=y)/);
    refuse(/a{0,3}/);
    refuse(/x{2,}/);
    expect(() => new PrivacyFilter({ scrub: { keys: /^(a+)+$/ } })).toThrow(/scrub\.keys pattern/);
    expect(() => new PrivacyFilter({ scrub: { keys: /^(?:ssn|tax_id)$/i } })).not.toThrow();
  });
});

// Each input is crafted against one detector's loop (what a backtracking pattern would retry from
// every position). A detector that is not linear would need hours for a megabyte; the timeout
// bounds that hang. The bench prints the time each one takes.
const MB = 1 << 20;
const fill = (unit: string) => unit.repeat(Math.ceil(MB / unit.length)).slice(0, MB);
const ADVERSARIAL: Record<string, string> = {
  jwt: fill("eyJ-"),
  "jwt-no-dot": `eyJ${"a".repeat(MB)}`,
  "jwt-two-segments": fill("eyJabcdefghij.eyJ"),
  "url-password": fill("a://b:"),
  "url-no-at": `x://a:${"b".repeat(MB)}`,
  // recheck's attack string against the regular expression this replaced.
  "url-scheme-run": `${fill("A+").slice(3)}://`,
  "secret-assignment": fill("password="),
  "secret-assignment-long-name": fill(`${"a".repeat(100)}=`),
  "secret-assignment-colon": fill(":"),
  "secret-assignment-quote": `password="${"\\".repeat(MB)}`,
  passphrase: `password:${" ".repeat(MB)}`,
  "openai-key": fill("sk-"),
  "aws-access-key": fill("AKIA"),
  "github-token": fill(`ghp_${"a".repeat(30)} `),
  "private-key": fill("-----BEGIN "),
  "private-key-unterminated": `-----BEGIN RSA PRIVATE KEY-----${fill("-----END ")}`,
  "bearer-token": fill("Bearer "),
  mixed: fill("eyJ-sk-:=//@a"),
};

describe("every detector is linear", () => {
  for (const [name, text] of Object.entries(ADVERSARIAL)) {
    it(`scrubs 1 MB crafted against ${name}`, () => {
      const out = scrubString(text);
      expect(typeof out).toBe("string");
    }, 20_000);
  }
});
