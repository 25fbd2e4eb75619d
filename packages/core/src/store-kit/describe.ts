import { scrubString } from "../privacy.js";
import type { StoreCapabilities, StoreDescription } from "../store.js";

/**
 * A store's description with any secret in `location` scrubbed (a password in a URL, a token in
 * a path), so a store can hand it to `audit doctor`, logs and error messages as it is.
 */
export function describeStore(
  store: { readonly id: string; readonly capabilities: StoreCapabilities },
  location: string,
  readOnly: boolean,
): StoreDescription {
  return {
    id: store.id,
    location: scrubString(location),
    readOnly,
    capabilities: { ...store.capabilities },
  };
}
