import { AuditConfigError, scrubString } from "@audit/core";
import { JsonlStore, type JsonlStoreOptions } from "./jsonl-store.js";

/**
 * Opens a store from `jsonl:./audit-logs` (a directory), with options in the query string:
 * `?rotation=daily|single&maxBytes=67108864&fsync=never|batch|always`. Used by `openStore` and
 * `AUDIT_STORE`.
 */
export function createStoreFromUrl(
  url: string,
  options: Partial<JsonlStoreOptions> = {},
): JsonlStore {
  const m = /^jsonl:(?:\/\/)?([^?]*)(?:\?(.*))?$/i.exec(url);
  if (!m?.[1]) {
    throw new AuditConfigError(
      `[audit] [jsonl] "${scrubString(url)}" is not a JSONL URL; use jsonl:./audit-logs (a directory)`,
    );
  }
  const params = new URLSearchParams(m[2] ?? "");
  const opts: JsonlStoreOptions = { ...options, dir: decodeURIComponent(m[1]) };
  let maxBytes: number | undefined;
  let daily: boolean | undefined;
  for (const [key, value] of params) {
    if (key === "rotation") {
      if (value !== "daily" && value !== "single")
        throw new AuditConfigError(`[audit] [jsonl] rotation must be daily or single`);
      opts.rotation = value;
      daily = value === "daily";
    } else if (key === "maxBytes") {
      maxBytes = Number(value);
      if (!Number.isInteger(maxBytes) || maxBytes < 1)
        throw new AuditConfigError(`[audit] [jsonl] maxBytes must be a whole number`);
    } else if (key === "fsync") {
      if (value !== "never" && value !== "batch" && value !== "always") {
        throw new AuditConfigError(`[audit] [jsonl] fsync must be never, batch or always`);
      }
      opts.fsync = value;
    } else {
      throw new AuditConfigError(
        `[audit] [jsonl] unknown option "${key}" in the store URL; known: rotation, maxBytes, fsync`,
      );
    }
  }
  if (maxBytes !== undefined) opts.rotation = { maxBytes, daily: daily ?? false };
  return new JsonlStore(opts);
}
