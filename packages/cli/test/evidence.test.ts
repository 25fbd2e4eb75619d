import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Auditor, type EvidenceBundle, openStore } from "@audit/core";
import { afterAll, describe, expect, it } from "vitest";

// The real CLI binary over real SQLite and JSONL stores.
const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(packageDir, "dist", "bin.js");
const dir = mkdtempSync(join(tmpdir(), "audit-evidence-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const exec = promisify(execFile);
async function audit(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], {
      cwd: dir,
      env: { ...process.env, AUDIT_STORE: "", AUDIT_SIGNING_KEY: "", AUDIT_CHAIN_KEY: "", ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const pubFile = join(dir, "signing.pub");
const keyFile = join(dir, "signing.key");
writeFileSync(pubFile, publicKey.export({ format: "pem", type: "spki" }));
writeFileSync(keyFile, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });

async function writeTrail(url: string): Promise<string> {
  const store = await openStore(url);
  const a = new Auditor({
    store,
    spool: false,
    actor: "bot",
    integrity: { signingKey: privateKey, checkpointEvery: 5 },
  });
  const run = a.startRun({ agent: "refunds" });
  for (let i = 0; i < 6; i++) await run.tool("lookup", { i }, async () => ({ i }));
  a.record({ type: "noise", data: { n: 1 } });
  const approvalId = run.requestApproval({ action: "refund" });
  await a.flush();
  await a.approvals.resolve(approvalId, { outcome: "approve", resolvedBy: "alice" });
  await run.end({ output: "ok" });
  await a.close();
  await store.close();
  return run.runId;
}

describe.each([
  ["sqlite", () => `sqlite:${join(dir, "audit.db")}`],
  ["jsonl", () => `jsonl:${join(dir, "trail")}`],
])("audit evidence / verify-bundle on %s", (_name, url) => {
  it("writes a bundle that verifies offline, and names tampering", async () => {
    const store = url();
    const runId = await writeTrail(store);
    const out = join(dir, `${_name}-bundle.json`);
    const made = await audit([
      "evidence",
      "--store",
      store,
      "--run",
      runId,
      "--public-key",
      pubFile,
      "-o",
      out,
    ]);
    expect(made.stderr).toMatch(/wrote .*: 16 events of run/);
    expect(made.code).toBe(0);
    const bundle = JSON.parse(readFileSync(out, "utf8")) as EvidenceBundle;
    expect(bundle.entries.every((e) => e.event.runId === runId)).toBe(true);

    // Offline: the store is gone.
    rmSync(join(dir, "audit.db"), { force: true });
    rmSync(join(dir, "trail"), { recursive: true, force: true });
    const ok = await audit(["verify-bundle", out, "--public-key", pubFile]);
    expect(ok.stdout).toMatch(/checked 16 events/);
    expect(ok.stdout).toMatch(/^OK/m);
    expect(ok.code).toBe(0);
    const json = await audit(["verify-bundle", out, "-o", "json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, runId, events: 16 });

    const bad = JSON.parse(JSON.stringify(bundle)) as EvidenceBundle;
    const target = bad.entries.find((e) => e.event.type === "approval.resolve")!;
    target.event.data.outcome = "deny";
    const badFile = join(dir, `${_name}-bad.json`);
    writeFileSync(badFile, JSON.stringify(bad));
    const failed = await audit(["verify-bundle", badFile, "--public-key", pubFile, "-o", "json"]);
    expect(failed.code).toBe(1);
    const report = JSON.parse(failed.stdout);
    expect(report.ok).toBe(false);
    expect(
      report.problems.map((p: { kind: string; eventId: string }) => `${p.kind} ${p.eventId}`),
    ).toEqual([
      `leaf-mismatch ${target.event.id}`,
      `hash-mismatch ${target.event.id}`,
      `bad-proof ${target.event.id}`,
    ]);

    // Another key than the signer's.
    const strangerFile = join(dir, "stranger.pub");
    writeFileSync(
      strangerFile,
      generateKeyPairSync("ed25519").publicKey.export({ format: "pem", type: "spki" }),
    );
    const stranger = await audit(["verify-bundle", out, "--public-key", strangerFile]);
    expect(stranger.code).toBe(1);
    expect(stranger.stdout).toMatch(/PROBLEM key-mismatch/);
  });
});

describe("audit evidence: bad input", () => {
  it("clear errors, exit 2 for usage and 1 for a run it cannot prove", async () => {
    const store = `sqlite:${join(dir, "errors.db")}`;
    const runId = await writeTrail(store);
    expect((await audit(["evidence", "--store", store])).stderr).toMatch(/--run ID is required/);
    const noKey = await audit(["evidence", "--store", store, "--run", runId]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/no key/);
    // The signing key from the environment (a private key gives its public half).
    const fromEnv = await audit(["evidence", "--store", store, "--run", runId], {
      AUDIT_SIGNING_KEY: readFileSync(keyFile, "utf8"),
    });
    expect(fromEnv.code).toBe(0);
    expect(JSON.parse(fromEnv.stdout).entries).toHaveLength(16);
    const missing = await audit([
      "evidence",
      "--store",
      store,
      "--run",
      "nope",
      "--public-key",
      pubFile,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no event of run nope/);
    const badKey = await audit([
      "evidence",
      "--store",
      store,
      "--run",
      runId,
      "--public-key",
      join(dir, "absent.pub"),
    ]);
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/cannot read the public key/);

    const notJson = join(dir, "not.json");
    writeFileSync(notJson, "{ not json");
    const nj = await audit(["verify-bundle", notJson]);
    expect(nj.code).toBe(1);
    expect(nj.stdout).toMatch(/PROBLEM malformed/);
    expect((await audit(["verify-bundle"])).code).toBe(2);
    expect((await audit(["verify-bundle", join(dir, "absent.json")])).code).toBe(2);
    expect((await audit(["evidence", "--help"])).stdout).toMatch(/inclusion proof/);
    expect((await audit(["--help"])).stdout).toMatch(/verify-bundle/);
  });
});
