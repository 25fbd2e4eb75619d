import { readUrlParams, splitStoreUrl } from "@audit/core/store-kit";
import { JsonlStore, type JsonlStoreOptions } from "./jsonl-store.js";

const PARAMS = {
  rotation: { kind: "choice", values: ["daily", "single"] },
  maxBytes: { kind: "integer", min: 1 },
  fsync: { kind: "choice", values: ["never", "batch", "always"] },
  readOnly: { kind: "boolean" },
} as const;

/**
 * Opens a store from `jsonl:./audit-logs` (a directory), with options in the query string:
 * `?rotation=daily|single&maxBytes=67108864&fsync=never|batch|always&readOnly=true`. Any other
 * parameter is an error that lists these. Used by `openStore` and `AUDIT_STORE`.
 */
export function createStoreFromUrl(
  url: string,
  options: Partial<JsonlStoreOptions> = {},
): JsonlStore {
  const { location, query } = splitStoreUrl(url, "jsonl", "jsonl:./audit-logs (a directory)");
  const { values } = readUrlParams("jsonl", query, PARAMS, { aliases: { readonly: "readOnly" } });
  const { rotation, maxBytes, ...rest } = values;
  const opts: JsonlStoreOptions = { ...options, ...rest, dir: location };
  if (rotation !== undefined) opts.rotation = rotation;
  if (maxBytes !== undefined) opts.rotation = { maxBytes, daily: rotation === "daily" };
  return new JsonlStore(opts);
}
