import { AuditConfigError, scrubString } from "@audit/core";
import { PostgresStore, type PostgresStoreOptions } from "./postgres-store.js";

const OWN_PARAMS = ["schema", "maxConnections", "migrate", "partitions", "minRetention"];

/**
 * Opens a store from `postgres://user:pass@host:5432/db` or `postgresql://…`. `?schema=audit`,
 * `?maxConnections=8`, `?migrate=false`, `?partitions=monthly` and `?minRetention=30%20days` are
 * read here; every other parameter (`sslmode`, …)
 * goes to the driver. Used by `openStore` and `AUDIT_STORE`.
 */
export function createStoreFromUrl(
  url: string,
  options: Partial<PostgresStoreOptions> = {},
): PostgresStore {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AuditConfigError(
      `[audit] [postgres] "${scrubString(url)}" is not a valid URL; use postgres://user@host:5432/database`,
    );
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new AuditConfigError(
      `[audit] [postgres] "${scrubString(url)}" must start with postgres:// or postgresql://`,
    );
  }
  const opts: PostgresStoreOptions = { ...options };
  const schema = parsed.searchParams.get("schema");
  if (schema !== null) opts.schema = schema;
  const max = parsed.searchParams.get("maxConnections");
  if (max !== null) {
    const n = Number(max);
    if (!Number.isInteger(n) || n < 1)
      throw new AuditConfigError(`[audit] [postgres] maxConnections must be a whole number ≥ 1`);
    opts.maxConnections = n;
  }
  const partitions = parsed.searchParams.get("partitions");
  if (partitions !== null) {
    if (partitions !== "monthly")
      throw new AuditConfigError(`[audit] [postgres] partitions must be "monthly"`);
    opts.partitions = "monthly";
  }
  const minRetention = parsed.searchParams.get("minRetention");
  if (minRetention !== null) opts.minRetention = minRetention;
  const migrate = parsed.searchParams.get("migrate");
  if (migrate !== null) opts.migrate = migrate !== "false";
  for (const p of OWN_PARAMS) parsed.searchParams.delete(p);
  opts.connectionString = parsed.toString();
  return new PostgresStore(opts);
}
