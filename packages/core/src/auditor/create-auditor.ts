import { AuditConfigError } from "../errors.js";
import type { AuditExporter } from "../exporters/exporter.js";
import { exportersFromEnv, openStore } from "../registry.js";
import { Auditor } from "./auditor.js";
import type { AuditorOptions } from "./options.js";

/**
 * Creates an auditor. The store comes from `options.store` (an instance or a URL) or the
 * `AUDIT_STORE` environment variable; exporters from `options.exporters` or `AUDIT_EXPORTERS`.
 * @throws {AuditConfigError} when no store is configured or an option is invalid;
 *   {@link AdapterNotInstalledError} when the URL needs a package that is not installed.
 */
export async function createAuditor(options: AuditorOptions = {}): Promise<Auditor> {
  const storeOption = options.store ?? process.env.AUDIT_STORE;
  if (storeOption === undefined || storeOption === "") {
    throw new AuditConfigError(
      'no store configured: pass { store } to createAuditor or set AUDIT_STORE (for example "sqlite:./audit.db", "jsonl:./audit-logs" or "memory:")',
    );
  }
  const ownsStore = typeof storeOption === "string";
  const store = typeof storeOption === "string" ? await openStore(storeOption) : storeOption;
  const exportersOption = options.exporters ?? process.env.AUDIT_EXPORTERS;
  const ownsExporters = typeof exportersOption === "string";
  let exporters: readonly AuditExporter[];
  try {
    exporters =
      typeof exportersOption === "string"
        ? await exportersFromEnv(exportersOption)
        : (exportersOption ?? []);
  } catch (err) {
    if (ownsStore) await store.close().catch(() => undefined);
    throw err;
  }
  return new Auditor(
    { ...options, store, exporters },
    { store: ownsStore, exporters: ownsExporters },
  );
}
