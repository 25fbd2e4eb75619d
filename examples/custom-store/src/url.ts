import { readUrlParams, splitStoreUrl } from "@audit/core/store-kit";
import { JsonFileStore } from "./json-file-store.js";

/**
 * Opens a store from `jsonfile:./audit-trail` (a directory). Register it so a URL can name it,
 * in `AUDIT_STORE` or `createAuditor({ store })`: `registerStore("jsonfile", createStoreFromUrl)`.
 */
export function createStoreFromUrl(url: string): JsonFileStore {
  const { location, query } = splitStoreUrl(url, "jsonfile", "jsonfile:./audit-trail");
  // The store has no options: any parameter is a typo, refused rather than ignored.
  readUrlParams("jsonfile", query, {});
  return new JsonFileStore({ dir: location });
}
