export {
  DEFAULT_MIN_RETENTION,
  ident,
  type Layout,
  MIGRATIONS,
  migrate,
  SCHEMA_VERSION,
} from "./migrations.js";
export { describePgError, PostgresStore, type PostgresStoreOptions } from "./postgres-store.js";
export { createStoreFromUrl } from "./url.js";
