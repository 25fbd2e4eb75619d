// A scripted support agent (no network, no model) that records its work with @audit/core and then
// prints the trail and verifies its hash chains. The store comes from AUDIT_STORE; without it the
// demo writes a fresh SQLite file, demo-audit.db, next to this script.
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { main } from "@audit/cli";
import { AuditError, type Auditor, createAuditor, StoreError } from "@audit/core";

const defaultFile = fileURLToPath(new URL("./demo-audit.db", import.meta.url));
if (!process.env.AUDIT_STORE)
  for (const suffix of ["", "-wal", "-shm"]) rmSync(defaultFile + suffix, { force: true });
const storeUrl = process.env.AUDIT_STORE || `sqlite:${defaultFile}`;

/** One line for a person: what failed, then what to try, without a stack trace. */
function fail(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`demo: ${message.replace(/\s*\n\s*/g, " ")}`);
  if (err instanceof StoreError || (err instanceof AuditError && err.code === "AUDIT_STORE")) {
    console.error(
      `hint: the store ${redact(storeUrl)} did not answer; start it, or run the demo on SQLite (unset AUDIT_STORE) or on files (AUDIT_STORE=jsonl:./audit-logs)`,
    );
  } else if (err instanceof AuditError && err.code !== "AUDIT_ERROR") {
    console.error(
      "hint: AUDIT_STORE takes a store URL: sqlite:./audit.db, jsonl:./audit-logs, postgres://user@host:5432/db, memory:",
    );
  }
  process.exit(err instanceof StoreError ? 3 : 2);
}

/** The store URL as it may be printed: a password in it is hidden. */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
}

let audit: Auditor;
try {
  audit = await createAuditor({ store: storeUrl, actor: "support-bot", spool: false });
  // The first write is where an unreachable server shows: ask for its health before the runs.
  await audit.store.count();
} catch (err) {
  fail(err);
}

interface Order {
  total: number;
  customer?: string;
}

const orders: Record<string, Order> = {
  "A-1001": { total: 49, customer: "dana@example.com" },
  "A-1002": { total: 420 },
};

async function lookupOrder(id: string): Promise<Order> {
  await new Promise((r) => setTimeout(r, 5));
  const order = orders[id];
  if (!order) throw new Error(`order ${id} not found`);
  return order;
}

// Conversation 1: a small refund, allowed by policy.
await audit.withRun(
  { agent: "support-bot", sessionId: "conv-1", input: "Refund order A-1001" },
  async (run) => {
    const order = await run.tool("lookup_order", { id: "A-1001" }, () => lookupOrder("A-1001"));
    run.llm({
      model: "scripted-model",
      provider: "none",
      inputTokens: 120,
      outputTokens: 32,
      durationMs: 3,
    });
    run.policy({ policy: "refunds", decision: "allow", rule: "under-100" });
    run.action({
      actionType: "refund",
      target: "A-1001",
      params: { amount: order.total },
      status: "success",
    });
    return `refunded ${order.total}`;
  },
);

// Conversation 2: a failing tool, then a denied policy.
await audit
  .withRun(
    { agent: "support-bot", sessionId: "conv-2", input: "Where is order A-9999?" },
    async (run) => {
      await run
        .tool("lookup_order", { id: "A-9999" }, () => lookupOrder("A-9999"))
        .catch(() => undefined);
      run.policy({
        policy: "pii",
        decision: "deny",
        rule: "no-email-disclosure",
        reason: "asked for another customer's email",
      });
      throw new Error("cannot help with this request");
    },
  )
  .catch(() => undefined);

// Conversation 3: a large refund needs a human; a supervisor approves it.
const run = audit.startRun({
  agent: "support-bot",
  sessionId: "conv-3",
  input: "Refund order A-1002",
});
const order = await run.tool("lookup_order", { id: "A-1002" }, () => lookupOrder("A-1002"));
run.policy({ policy: "refunds", decision: "review", rule: "over-100" });
const approvalId = run.requestApproval({
  action: "refund",
  reason: `refund of ${order.total} is over the limit`,
});
setTimeout(() => {
  audit.approvals.resolve(approvalId, {
    outcome: "approve",
    resolvedBy: "alice",
    comment: "loyal customer",
  });
}, 20);
const decision = await audit.approvals.wait(approvalId, { timeoutMs: 5000 });
run.action({
  actionType: "refund",
  target: "A-1002",
  params: { amount: order.total },
  status: "success",
});
await run.end({ output: `refunded ${order.total} after approval by ${decision.data.resolvedBy}` });

await audit.close();
const stats = audit.stats();

// What a person would type next: the trail through the audit command, then its verification.
const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };
if (storeUrl.startsWith("memory:") || storeUrl.startsWith("null:")) {
  console.log(
    "(the trail lived in memory and is gone; set AUDIT_STORE to a persistent store to query it)",
  );
} else {
  console.log(`\n$ audit query --store ${storeUrl} --format table --limit 1000\n`);
  await main(["query", "--store", storeUrl, "--format", "table", "--limit", "1000"], io);
  console.log(`\n$ audit run ${run.runId}\n`);
  await main(["run", run.runId, "--store", storeUrl], io);
  console.log(`\n$ audit verify --store ${storeUrl} --require-closed\n`);
  process.exitCode = await main(["verify", "--store", storeUrl, "--require-closed"], io);
}
console.log(`\nrecorded ${stats.recorded}, stored ${stats.stored}, lost ${stats.lost}`);
if (stats.lost > 0) process.exitCode = 1;
