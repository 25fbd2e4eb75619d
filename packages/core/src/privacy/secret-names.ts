// Names whose values are secrets, matched without regular expressions: a key is lower-cased once
// and compared against fixed suffixes, so the cost is the key's length whatever it holds.

/** Endings that make a name secret however it starts: `DB_PASSWORD`, `PGPASSWORD`, `clientSecret`. */
const SUFFIXES = [
  "password",
  "passwd",
  "passphrase",
  "secret",
  "token",
  "apikey",
  "api_key",
  "api-key",
  "accesskey",
  "access_key",
  "access-key",
  "secretkey",
  "secret_key",
  "secret-key",
  "privatekey",
  "private_key",
  "private-key",
  "credential",
  "credentials",
  "authorization",
  "cookie",
];

/** Short names that are secrets only on their own or after a separator (`MYSQL_PWD`, `x-auth`). */
const WORDS = ["pwd", "auth"];

/** In text only (URL query parameters): signatures of pre-signed URLs. Never object keys, where
 * `signature` is a checkpoint's own field. */
const TEXT_WORDS = ["sig", "signature"];

function endsWithWord(name: string, word: string): boolean {
  if (!name.endsWith(word)) return false;
  if (name.length === word.length) return true;
  const before = name.charCodeAt(name.length - word.length - 1);
  return before === 0x5f /* _ */ || before === 0x2d /* - */ || before === 0x2e /* . */;
}

/**
 * True for a name whose value is a secret. `inText` adds the names that are secrets in a URL's
 * query string (`sig`, `signature`) but not as object keys.
 */
export function isSecretName(name: string, inText = false): boolean {
  if (name.length < 3 || name.length > 128) return false;
  const lower = name.toLowerCase();
  for (const s of SUFFIXES) if (lower.endsWith(s)) return true;
  for (const w of WORDS) if (endsWithWord(lower, w)) return true;
  if (inText) for (const w of TEXT_WORDS) if (endsWithWord(lower, w)) return true;
  return false;
}

const cache = new Map<string, boolean>();

/**
 * True for an object key whose (non-numeric) value must be redacted whatever it looks like:
 * `password`, `apiKey`, `x-api-key`, `GITHUB_TOKEN`, `Set-Cookie`, `clientSecret`, …
 */
export function isSecretKey(key: string): boolean {
  let known = cache.get(key);
  if (known === undefined) {
    known = isSecretName(key);
    // Payload keys repeat from event to event; the cache stays small for any sane schema.
    if (cache.size < 10_000 && key.length <= 128) cache.set(key, known);
  }
  return known;
}
