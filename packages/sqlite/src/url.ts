import { AuditConfigError, scrubString } from "@audit/core";
import { SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";

/**
 * Opens a store from `sqlite:./audit.db`, `sqlite:/abs/path.db`, `sqlite::memory:` or
 * `sqlite://./audit.db`, with options in the query string: `?maxEvents=100000&synchronous=normal
 * &busyTimeoutMs=10000&readOnly=true`. Used by `openStore` and `AUDIT_STORE`. Error messages never
 * repeat a secret the URL may hold.
 */
export function createStoreFromUrl(
  url: string,
  options: Partial<SqliteStoreOptions> = {},
): SqliteStore {
  const m = /^sqlite:(?:\/\/)?([^?]*)(?:\?(.*))?$/i.exec(url);
  if (!m?.[1]) {
    throw new AuditConfigError(
      `[audit] [sqlite] "${scrubString(url)}" is not a SQLite URL; use sqlite:./audit.db or sqlite::memory:`,
    );
  }
  const filename = decodeURIComponent(m[1]);
  const params = new URLSearchParams(m[2] ?? "");
  const opts: SqliteStoreOptions = { ...options, filename };
  for (const [key, value] of params) {
    if (key === "maxEvents" || key === "busyTimeoutMs" || key === "pollIntervalMs") {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0)
        throw new AuditConfigError(
          `[audit] [sqlite] ${key} must be a whole number, got "${value}"`,
        );
      opts[key] = n;
    } else if (key === "readOnly" || key === "readonly") {
      if (value !== "true" && value !== "false" && value !== "1" && value !== "0")
        throw new AuditConfigError(`[audit] [sqlite] readOnly must be true or false`);
      opts.readOnly = value === "true" || value === "1";
    } else if (key === "synchronous") {
      if (value !== "full" && value !== "normal")
        throw new AuditConfigError(`[audit] [sqlite] synchronous must be full or normal`);
      opts.synchronous = value;
    } else {
      throw new AuditConfigError(
        `[audit] [sqlite] unknown option "${key}" in the store URL; known: maxEvents, synchronous, busyTimeoutMs, pollIntervalMs, readOnly`,
      );
    }
  }
  return new SqliteStore(opts);
}
