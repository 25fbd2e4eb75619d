export { JsonFileStore, type JsonFileStoreOptions } from "./json-file-store.js";
export { createStoreFromUrl } from "./url.js";
