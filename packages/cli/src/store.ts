import { type AuditStore, openStore } from "@audit/core";
import { type OptionDef, UsageError } from "./args.js";
import type { CliIo } from "./io.js";

/** `--store URL`, which every command that reads a trail takes. */
export const STORE_OPTION: OptionDef = {
  name: "store",
  type: "string",
  value: "URL",
  description: "sqlite:./audit.db, jsonl:./dir, postgres://…, memory: (default: AUDIT_STORE)",
  group: "Store",
};

/**
 * The store named by `--store` or `AUDIT_STORE`, opened. `readOnly` opens an existing trail only
 * (a mistyped path is an error and nothing is created).
 */
export async function storeFrom(
  url: unknown,
  io: CliIo,
  options?: { readOnly?: boolean; pollIntervalMs?: number },
): Promise<AuditStore> {
  const u = (url as string | undefined) ?? io.env.AUDIT_STORE;
  if (!u)
    throw new UsageError("no store: pass --store URL or set AUDIT_STORE (e.g. sqlite:./audit.db)");
  return openStore(u, options);
}
