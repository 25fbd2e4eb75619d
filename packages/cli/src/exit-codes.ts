import { AuditError, StoreTimeoutError } from "@audit/core";

/** The exit codes of `audit`, the same for every command. */
export const EXIT = {
  /** Everything went as asked. */
  ok: 0,
  /** The command ran and found something: a broken chain, a missing event, a lost approval race. */
  findings: 1,
  /** The command was called wrong, or its configuration is wrong (bad option, bad store URL). */
  usage: 2,
  /** The store could not be reached (a server down or refusing connections, a time-out). */
  unreachable: 3,
} as const;

/** The exit codes as the help and the README list them. */
export const EXIT_HELP = `Exit codes:
  0  success
  1  findings: a problem found (verify), an event or run that does not exist, an approval already
     resolved, a spool or quarantine that needs attention (doctor)
  2  usage or configuration error: a bad option or value, a bad store URL, a backend not installed
  3  the store is unreachable: the server is down or refuses connections, or does not answer`;

// Socket errors that mean the server is not there, whatever the backend.
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "57P03", // PostgreSQL: the server is starting up or shutting down
  "SQLITE_CANTOPEN",
]);

/** Whether `err` (or an error it was caused by) says the store cannot be reached. */
export function isUnreachable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 8 && e; depth++) {
    if (e instanceof StoreTimeoutError) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && UNREACHABLE_CODES.has(code)) return true;
    // A pool may wrap several attempts in an AggregateError.
    const inner = (e as { errors?: unknown[] }).errors;
    if (Array.isArray(inner) && inner.some((x) => isUnreachable(x))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The message of `err` without the library's own prefixes (`[audit] `, a store's `[postgres] `),
 * so an error line has exactly one prefix: the command's.
 */
export function bareMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  let out = message.replaceAll("[audit] ", "");
  if (err instanceof AuditError && "storeId" in err) {
    out = out.replace(`[${(err as { storeId: string }).storeId}] `, "");
  }
  return out;
}
