import { AuditValidationError, StoreTimeoutError } from "../errors.js";

// SQLSTATE classes that mean "this data is refused", not "try again": 22 data exception (e.g. a NUL
// byte in text), 23 integrity constraint violation, 54 program limit exceeded (a row too large).
const REJECTING_SQLSTATE = /^(22|23|54)[0-9A-Z]{3}$/;
const REJECTING_SQLITE = /^SQLITE_(TOOBIG|MISMATCH|CONSTRAINT)/;

/**
 * True when a store's error says it refuses the events' content, so that the same write will fail
 * the same way however often it is retried: validation errors, SQL data and constraint errors, and
 * errors a driver throws while serialising a value. Anything else (connection lost, timeout, disk
 * full, lock busy) is transient. Adapters can mark an error with `rejected: true` to say the same.
 */
export function isRejection(err: unknown, depth = 0): boolean {
  if (depth > 4 || err === null || typeof err !== "object") return false;
  if (err instanceof StoreTimeoutError) return false;
  if (err instanceof AuditValidationError) return true;
  const e = err as { rejected?: unknown; code?: unknown; cause?: unknown };
  if (e.rejected === true) return true;
  if (typeof e.code === "string") {
    if (REJECTING_SQLSTATE.test(e.code) || REJECTING_SQLITE.test(e.code)) return true;
  }
  // JSON.stringify of a BigInt, a string too long for the engine: the input itself is at fault.
  if (err instanceof TypeError || err instanceof RangeError) return true;
  return isRejection(e.cause, depth + 1);
}

/** True for the errors of a full disk or a file size limit. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOSPC" || code === "EFBIG" || code === "EDQUOT";
}
