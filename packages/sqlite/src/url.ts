import { AuditConfigError } from "@audit/core";
import { SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";

/**
 * Opens a store from `sqlite:./audit.db`, `sqlite:/abs/path.db`, `sqlite::memory:` or
 * `sqlite://./audit.db`, with options in the query string: `?maxEvents=100000&synchronous=normal
 * &busyTimeoutMs=10000`. Used by `openStore` and `AUDIT_STORE`.
 */
export function createStoreFromUrl(
  url: string,
  options: Partial<SqliteStoreOptions> = {},
): SqliteStore {
  const m = /^sqlite:(?:\/\/)?([^?]*)(?:\?(.*))?$/i.exec(url);
  if (!m || !m[1]) {
    throw new AuditConfigError(
      `[audit] [sqlite] "${url}" is not a SQLite URL; use sqlite:./audit.db or sqlite::memory:`,
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
    } else if (key === "synchronous") {
      if (value !== "full" && value !== "normal")
        throw new AuditConfigError(`[audit] [sqlite] synchronous must be full or normal`);
      opts.synchronous = value;
    } else {
      throw new AuditConfigError(
        `[audit] [sqlite] unknown option "${key}" in ${url}; known: maxEvents, synchronous, busyTimeoutMs, pollIntervalMs`,
      );
    }
  }
  return new SqliteStore(opts);
}
