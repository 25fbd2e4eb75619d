import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AuditEvent, type Auditor, createAuditor } from "@audit/core";

/** A fresh SQLite trail in a temporary directory. */
export async function sqliteAuditor(): Promise<{
  audit: Auditor;
  storeUrl: string;
  cleanup: () => Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), "audit-openai-agents-"));
  const storeUrl = `sqlite:${join(dir, "audit.db")}`;
  const audit = await createAuditor({ store: storeUrl, spool: false });
  return {
    audit,
    storeUrl,
    cleanup: async () => {
      await audit.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every stored event, oldest first, after flushing what is still queued. */
export async function trail(audit: Auditor): Promise<AuditEvent[]> {
  await audit.flush();
  // Checkpoints belong to the chains (a resolver in another process closes its own chain with
  // one), not to the run's story.
  const events = await audit.store.query({ order: "asc", limit: 10_000 });
  return events.filter((e) => e.type !== "audit.checkpoint");
}

const resolver = fileURLToPath(new URL("./fixtures/resolve-approval.mjs", import.meta.url));

/**
 * Starts another process that opens the same store, waits for the pending approval and resolves
 * it. Resolves with what that process printed.
 */
export function resolveFromAnotherProcess(
  storeUrl: string,
  outcome: string,
  resolvedBy: string,
  comment?: string,
): Promise<{ approvalId: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const args = [resolver, storeUrl, outcome, resolvedBy, ...(comment ? [comment] : [])];
    execFile(process.execPath, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`resolver failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout));
    });
  });
}
