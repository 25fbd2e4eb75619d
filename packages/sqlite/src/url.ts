import { readUrlParams, splitStoreUrl } from "@audit/core/store-kit";
import { SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";

const PARAMS = {
  maxEvents: { kind: "integer", min: 1 },
  synchronous: { kind: "choice", values: ["full", "normal"] },
  busyTimeoutMs: { kind: "integer" },
  pollIntervalMs: { kind: "integer" },
  readOnly: { kind: "boolean" },
} as const;

/**
 * Opens a store from `sqlite:./audit.db`, `sqlite:/abs/path.db`, `sqlite::memory:` or
 * `sqlite://./audit.db`, with options in the query string: `?maxEvents=100000&synchronous=normal
 * &busyTimeoutMs=10000&readOnly=true`. Used by `openStore` and `AUDIT_STORE`. An unknown option is
 * an error listing the known ones; error messages never repeat a secret the URL may hold.
 */
export function createStoreFromUrl(
  url: string,
  options: Partial<SqliteStoreOptions> = {},
): SqliteStore {
  const { location, query } = splitStoreUrl(url, "sqlite", "sqlite:./audit.db or sqlite::memory:");
  const { values } = readUrlParams("sqlite", query, PARAMS, { aliases: { readonly: "readOnly" } });
  return new SqliteStore({ ...options, ...values, filename: location });
}
