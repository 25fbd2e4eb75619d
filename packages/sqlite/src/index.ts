export { MIGRATIONS, migrate, SCHEMA_VERSION } from "./migrations.js";
export { SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
export { createStoreFromUrl } from "./url.js";
