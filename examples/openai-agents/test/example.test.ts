import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createAuditor } from "@audit/core";
import { expect, it } from "vitest";

const here = fileURLToPath(new URL("..", import.meta.url));

it("runs offline, records the run with its approval, and prints it with the CLI", async () => {
  const dir = mkdtempSync(join(tmpdir(), "audit-example-"));
  const store = `sqlite:${join(dir, "audit.db")}`;
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        join(here, "node_modules", ".bin", "tsx"),
        ["main.ts"],
        { cwd: here, env: { ...process.env, AUDIT_STORE: store }, timeout: 150_000 },
        (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
      );
    });
    expect(stdout).toContain("agent: Order A-1002 is refunded.");
    expect(stdout).toMatch(/run support-desk ✓/);
    expect(stdout).toContain("approval.resolve  outcome=approve resolvedBy=supervisor");
    expect(stdout).toMatch(/tool bank_transfer ✗/);

    const audit = await createAuditor({ store, spool: false });
    const events = await audit.store.query({ order: "asc", limit: 1000 });
    await audit.close();
    const types = events.map((e) => e.type);
    expect(types.filter((t) => t === "run.start")).toHaveLength(1);
    expect(types).toContain("approval.resolve");
    expect(JSON.stringify(events)).not.toContain("sk-live-4f9a8b7c6d5e4f3a2b1c0d9e");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
