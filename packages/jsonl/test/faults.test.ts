import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Auditor, verifyChain } from "@audit/core";
import { processIdentity } from "@audit/core/store-kit";
import { makeEvent, runConcurrentWriters } from "@audit/test-suite";
import { afterAll, describe, expect, it, vi } from "vitest";
import { JsonlStore } from "../src/index.js";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const root = mkdtempSync(join(tmpdir(), "audit-jsonl-faults-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `d${n++}`);

describe("the directory lock", () => {
  it("takes over a lock whose pid now belongs to a live, unrelated process", async () => {
    const dir = fresh();
    const store = new JsonlStore({ dir, lockTimeoutMs: 2000 });
    await store.append([makeEvent()]);
    // A live, unrelated process; the lock names its pid with a start time it never had, as when a
    // dead holder's pid has been given to someone else (a container restarted as PID 1 again).
    const other = spawn("sleep", ["30"], { stdio: "ignore" });
    try {
      const [, , boot] = processIdentity().split(".");
      writeFileSync(join(dir, ".lock"), `${other.pid}.1.${boot ?? "0"}\nstale-token\n`);
      await store.append([makeEvent()]);
      expect(await store.count()).toBe(2);
    } finally {
      other.kill("SIGKILL");
      await store.close();
    }
  });

  it("takes over the lock of a holder killed while holding it", async () => {
    const dir = fresh();
    const store = new JsonlStore({ dir, lockTimeoutMs: 5000 });
    await store.append([makeEvent()]);
    const kit = pathToFileURL(require.resolve("@audit/core/store-kit")).href;
    // The child takes the lock the way a writer does (its own identity, linked into place), then
    // is killed with the lock held.
    const child = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const { processIdentity } = await import(${JSON.stringify(kit)});
         const { writeFileSync, linkSync } = await import("node:fs");
         const tmp = process.argv[1] + "/.lock.child.tmp";
         writeFileSync(tmp, processIdentity() + "\\nchild-token\\n");
         linkSync(tmp, process.argv[1] + "/.lock");
         console.log("locked");
         setInterval(() => {}, 1000);`,
        dir,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    await store.append([makeEvent()]);
    expect(await store.count()).toBe(2);
    await store.close();
  });

  it("takes over an empty lock left by a process killed between creating and writing it", async () => {
    const dir = fresh();
    const store = new JsonlStore({ dir, lockTimeoutMs: 10_000 });
    await store.append([makeEvent()]);
    writeFileSync(join(dir, ".lock"), "");
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, ".lock"), old, old);
    await store.append([makeEvent()]);
    expect(await store.count()).toBe(2);
    await store.close();
  });

  it("waits for a live holder instead of taking its lock", async () => {
    const dir = fresh();
    const store = new JsonlStore({ dir, lockTimeoutMs: 300 });
    await store.append([makeEvent()]);
    writeFileSync(join(dir, ".lock"), `${processIdentity()}\nlive-token\n`);
    await expect(store.append([makeEvent()])).rejects.toThrow(/timed out/);
    await store.close();
  });
});

describe("prune and writers at the same time", () => {
  it("writer processes keep writing through repeated prunes; the remaining chains verify with no gap", async () => {
    const dir = fresh();
    const pruner = new Auditor({ store: new JsonlStore({ dir }), spool: false });
    let pruning = true;
    const prunes = (async () => {
      let rounds = 0;
      while (pruning || rounds < 2) {
        await pruner.prune({ keep: 500 });
        rounds++;
        await new Promise((r) => setTimeout(r, 20));
      }
      return rounds;
    })();
    await runConcurrentWriters({
      url: `jsonl:${dir}`,
      processes: 2,
      events: 3000,
      cwd: packageDir,
    });
    pruning = false;
    expect(await prunes).toBeGreaterThan(0);
    await pruner.close();
    const store = new JsonlStore({ dir });
    const report = await verifyChain(store);
    expect(report.problems.filter((p) => p.kind === "gap" || p.kind === "broken-link")).toEqual([]);
    await store.close();
  }, 180_000);
});

describe("midnight", () => {
  it("stores an id once even when two writers stamp it on either side of midnight UTC", async () => {
    const dir = fresh();
    const a = new JsonlStore({ dir });
    const b = new JsonlStore({ dir });
    const id = "0d6258a6-3520-8711-8b6a-28da94dabce6";
    await a.append([makeEvent({ id, time: "2026-03-01T23:59:59.999Z" })]);
    await b.append([makeEvent({ id, time: "2026-03-02T00:00:00.001Z" })]);
    const c = new JsonlStore({ dir });
    expect(await c.count()).toBe(1);
    expect((await c.get(id))?.time).toBe("2026-03-01T23:59:59.999Z");
    for (const s of [a, b, c]) await s.close();
  });

  it("two resolvers on either side of midnight UTC (a clock at 23:59:59.999): the first wins", async () => {
    const dir = fresh();
    const store = new JsonlStore({ dir });
    const audit = new Auditor({ store, spool: false });
    const run = audit.startRun({ agent: "a" });
    const approvalId = run.requestApproval({ action: "pay" });
    await audit.flush();
    const other = new Auditor({ store: new JsonlStore({ dir }), spool: false });
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(new Date("2099-12-31T23:59:59.999Z"));
      const first = await audit.approvals.resolve(approvalId, {
        outcome: "approve",
        resolvedBy: "alice",
      });
      vi.setSystemTime(new Date("2100-01-01T00:00:00.001Z"));
      await expect(
        other.approvals.resolve(approvalId, { outcome: "deny", resolvedBy: "bob" }),
      ).rejects.toMatchObject({ code: "AUDIT_APPROVAL_CONFLICT" });
      expect(first.time).toBe("2099-12-31T23:59:59.999Z");
      // The run ends after its resolution, on the same clock.
      await run.end();
    } finally {
      vi.useRealTimers();
    }
    await audit.close();
    await other.close();
    const check = new JsonlStore({ dir });
    expect(await check.count({ type: "approval.resolve" })).toBe(1);
    const report = await verifyChain(check);
    expect(report.problems.filter((p) => p.kind !== "unclosed")).toEqual([]);
  });
});
