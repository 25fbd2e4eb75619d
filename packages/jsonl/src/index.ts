export { type JsonlRotation, JsonlStore, type JsonlStoreOptions } from "./jsonl-store.js";
export { createStoreFromUrl } from "./url.js";
