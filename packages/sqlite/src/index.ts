export { MIGRATIONS, migrate, SCHEMA_VERSION } from "./migrations.js";
export { DATABASE_FILE_MODE, SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
export { createStoreFromUrl } from "./url.js";
