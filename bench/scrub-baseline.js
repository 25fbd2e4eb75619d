// The secret scrubber of @audit/core 0.1.0 — regular expressions run one after another — kept
// here only as the baseline of bench/scrub.js. Two of these patterns (jwt, url-password)
// backtrack for seconds on crafted text; that is what the benchmark shows.
export const BASELINE_PATTERNS = [
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

const SECRET_HINT =
  /sk-|[sprk]k_|AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat_|glpat-|AIza|xox|hf_|eyJ|PRIVATE KEY|bearer|basic|token|:\/\/|pass|pwd|secret|api[_-]?key|aws_/i;

/** The 0.1.0 `scrubString`. */
export function baselineScrub(text) {
  if (!SECRET_HINT.test(text)) return text;
  let out = text;
  for (const { name, pattern } of BASELINE_PATTERNS) {
    pattern.lastIndex = 0;
    if (!pattern.test(out)) continue;
    pattern.lastIndex = 0;
    out = out.replace(pattern, (_match, ...args) => {
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
