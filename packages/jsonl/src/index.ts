export { JsonlStore, type JsonlRotation, type JsonlStoreOptions } from "./jsonl-store.js";
export { createStoreFromUrl } from "./url.js";
