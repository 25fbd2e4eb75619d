import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Auditor, openStore, verifyChain } from "@audit/core";
import { afterAll, describe, expect, it } from "vitest";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(packageDir, "dist", "bin.js");
const dir = mkdtempSync(join(tmpdir(), "audit-cli-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const exec = promisify(execFile);
const KEY = "application-hmac-key-0123456789";

async function audit(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], {
      cwd: dir,
      env: { ...process.env, AUDIT_STORE: "", AUDIT_KEY: "", AUDIT_SIGNING_KEY: "", ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function keyedTrail(
  name: string,
  integrity: ConstructorParameters<typeof Auditor>[0]["integrity"],
) {
  const url = `sqlite:${join(dir, `${name}.db`)}`;
  const store = await openStore(url);
  const a = new Auditor({ store, spool: false, ...(integrity !== undefined && { integrity }) });
  const run = a.startRun({ agent: "bot" });
  for (let i = 0; i < 20; i++) run.event("work.step", { i });
  const approvalId = run.requestApproval({ action: "refund" });
  await run.end();
  await a.close();
  await store.close();
  return { url, approvalId };
}

describe("the CLI writes with the application's keys", () => {
  it("refuses to resolve into a keyed trail without the key, and with it the trail still verifies", async () => {
    const { url, approvalId } = await keyedTrail("keyed", { key: KEY });
    const refused = await audit([
      "approvals",
      "resolve",
      approvalId,
      "--outcome",
      "approve",
      "--by",
      "alice",
      "--store",
      url,
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/keyed \(hmac-sha256.*AUDIT_KEY or --key-file/);
    const wrong = await audit(
      ["approvals", "resolve", approvalId, "--outcome", "approve", "--by", "alice", "--store", url],
      { AUDIT_KEY: "another-key-of-enough-length" },
    );
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/key id/);
    const keyFile = join(dir, "hmac.key");
    writeFileSync(keyFile, `${KEY}\n`);
    const ok = await audit([
      "approvals",
      "resolve",
      approvalId,
      "--outcome",
      "approve",
      "--by",
      "alice",
      "--store",
      url,
      "--key-file",
      keyFile,
    ]);
    expect(ok.code).toBe(0);
    const store = await openStore(url);
    const report = await verifyChain(store, { key: KEY, requireClosed: true });
    expect(report.problems).toEqual([]);
    expect((await store.query({ type: "approval.resolve" }))[0]?.chain).toBeDefined();
    await store.close();
  });

  it("prunes a signed trail only with the signing key, and the prune checkpoints are signed", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const { url } = await keyedTrail("signed", { signingKey: pem, checkpointEvery: 5 });
    const refused = await audit(["prune", "--keep", "5", "--store", url]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/signed.*AUDIT_SIGNING_KEY/);
    const pemFile = join(dir, "signing.pem");
    writeFileSync(pemFile, pem);
    const ok = await audit(["prune", "--keep", "5", "--store", url], {
      AUDIT_SIGNING_KEY: pemFile,
    });
    expect(ok.code).toBe(0);
    const store = await openStore(url);
    const report = await verifyChain(store, { publicKey, requireClosed: true });
    expect(report.problems).toEqual([]);
    await store.close();
  });
});
