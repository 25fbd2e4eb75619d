import { AuditConfigError, scrubString } from "@audit/core";
import { readUrlParams } from "@audit/core/store-kit";
import { PostgresStore, type PostgresStoreOptions } from "./postgres-store.js";

// The store's own parameters; they are taken out of the URL before it reaches the driver.
const PARAMS = {
  schema: { kind: "text" },
  maxConnections: { kind: "integer", min: 1 },
  migrate: { kind: "boolean" },
  partitions: { kind: "choice", values: ["monthly"] },
  minRetention: { kind: "text" },
  readOnly: { kind: "boolean" },
} as const;

/**
 * The driver's (node-postgres) connection parameters, passed on as given. Anything else is a
 * typo and refused, rather than silently ignored.
 */
const DRIVER_PARAMS = [
  "sslmode",
  "sslcert",
  "sslkey",
  "sslrootcert",
  "sslnegotiation",
  "ssl",
  "uselibpqcompat",
  "application_name",
  "fallback_application_name",
  "options",
  "client_encoding",
  "connect_timeout",
  "keepalives",
  "keepalives_idle",
  "statement_timeout",
  "query_timeout",
  "lock_timeout",
  "idle_in_transaction_session_timeout",
  "host",
  "port",
  "user",
  "password",
  "db",
  "encoding",
] as const;

/**
 * Opens a store from `postgres://user:pass@host:5432/db` or `postgresql://…`. `?schema=audit`,
 * `?maxConnections=8`, `?migrate=false`, `?partitions=monthly`, `?minRetention=30%20days` and
 * `?readOnly=true` are the store's; the driver's own (`sslmode`, `application_name`, …) go to
 * the driver; any other parameter is an error that lists the known ones. Used by `openStore` and
 * `AUDIT_STORE`.
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
      `[postgres] "${scrubString(url)}" is not a valid URL; use postgres://user@host:5432/database`,
    );
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new AuditConfigError(
      `[postgres] "${scrubString(url)}" must start with postgres:// or postgresql://`,
    );
  }
  const { values } = readUrlParams("postgres", parsed.searchParams, PARAMS, {
    aliases: { readonly: "readOnly" },
    passThrough: DRIVER_PARAMS,
  });
  const opts: PostgresStoreOptions = { ...options, ...values };
  for (const p of [...Object.keys(PARAMS), "readonly"]) parsed.searchParams.delete(p);
  opts.connectionString = parsed.toString();
  return new PostgresStore(opts);
}
