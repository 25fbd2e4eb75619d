import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

// Child programs are written to a temporary file and import @audit/core by the URL this module
// resolves, so they run the same core as the test. The store is opened through the adapter module
// the test names (its `createStoreFromUrl`), or else by `openStore` from the child's working
// directory (the adapter package's own folder, given by the test).
const OPEN_TARGET = `
// Opens the store the way the test asked: through the adapter module's createStoreFromUrl when one
// is given (the child then closes it), else by URL with openStore (the auditor owns it).
async function openTarget(url) {
  const mod = process.env.AUDIT_STORE_MODULE;
  if (!mod) return { store: url, close: async () => {} };
  const store = await (await import(mod)).createStoreFromUrl(url);
  return { store, close: () => store.close() };
}
`;

const WRITER = `
const core = await import(process.env.AUDIT_CORE_URL);
${OPEN_TARGET}
const [url, count, actor] = process.argv.slice(2);
const target = await openTarget(url);
const audit = await core.createAuditor({ store: target.store, spool: false, actor, onError: (e) => { console.error(e.message); } });
for (let i = 0; i < Number(count); i++) {
  audit.record({ type: "load.event", data: { i, actor } });
  if (i % 250 === 249) await new Promise((r) => setImmediate(r));
}
await audit.close();
await target.close();
const s = audit.stats();
process.stdout.write(JSON.stringify(s) + "\\n");
if (s.lost > 0 || s.spooled > 0) process.exitCode = 1;
`;

const CRASHER = `
import { writeSync } from "node:fs";
const core = await import(process.env.AUDIT_CORE_URL);
${OPEN_TARGET}
const [url, spool] = process.argv.slice(2);
const target = await openTarget(url);
const audit = await core.createAuditor({ store: target.store, spool, durability: "strict", batch: { maxDelayMs: 2 }, onError: () => {} });
writeSync(1, "ready\\n");
for (let i = 0; ; i++) {
  // A few events at once, so batches of several events are cut by the kill too.
  const events = [0, 1, 2].map((k) => audit.record({ type: "crash.event", data: { i, k, pad: "x".repeat(200) } }));
  for (const e of events) {
    await audit.commit(e);
    // Printed only once durable: the parent counts exactly these as acknowledged.
    writeSync(1, e.id + "\\n");
  }
}
`;

const RESOLVER = `
const core = await import(process.env.AUDIT_CORE_URL);
${OPEN_TARGET}
const [url, approvalId, name] = process.argv.slice(2);
const target = await openTarget(url);
const audit = await core.createAuditor({ store: target.store, spool: false });
try {
  await audit.approvals.resolve(approvalId, { outcome: "approve", resolvedBy: name });
  process.stdout.write("won\\n");
} catch (err) {
  process.stdout.write(err instanceof core.ApprovalConflictError ? "lost\\n" : "error " + err.message + "\\n");
}
await audit.close();
await target.close();
`;

let scriptDir: string | undefined;
function script(name: string, source: string): string {
  scriptDir ??= mkdtempSync(join(tmpdir(), "audit-children-"));
  const file = join(scriptDir, `${name}.mjs`);
  writeFileSync(file, source);
  return file;
}

function coreUrl(): string {
  return import.meta.resolve("@audit/core");
}

/** Where a child finds the store: its adapter module, or the folder `openStore` resolves from. */
export interface ChildStoreOptions {
  /**
   * The adapter module children import to open the store (absolute path or `file:` URL, plain
   * JavaScript) exporting `createStoreFromUrl(url)`. Without it, children use `openStore(url)`.
   */
  module?: string;
  /**
   * The children's working directory, from which `openStore` finds the adapter package when no
   * `module` is given.
   * @default process.cwd()
   */
  cwd?: string;
}

/** A `file:` URL for a module given as a path or URL. */
export function moduleUrl(module: string): string {
  return module.startsWith("file:") ? module : pathToFileURL(module).href;
}

function run(file: string, args: string[], where: ChildStoreOptions): ChildProcess {
  return spawn(process.execPath, [file, ...args], {
    cwd: where.cwd ?? process.cwd(),
    env: {
      ...process.env,
      AUDIT_CORE_URL: coreUrl(),
      AUDIT_STORE_MODULE: where.module === undefined ? "" : moduleUrl(where.module),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function collect(
  child: ChildProcess,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * Starts `processes` child processes that each record `events` events into the store at `url`
 * through their own auditor, all at once, and waits for them. Rejects if any child failed.
 */
export async function runConcurrentWriters(
  options: {
    url: string;
    processes: number;
    events: number;
  } & ChildStoreOptions,
): Promise<void> {
  const file = script("writer", WRITER);
  const results = await Promise.all(
    Array.from({ length: options.processes }, (_, p) =>
      collect(run(file, [options.url, String(options.events), `writer-${p}`], options)),
    ),
  );
  const failed = results.filter((r) => r.code !== 0);
  if (failed.length > 0) {
    throw new Error(
      `writer processes failed: ${failed.map((r) => `code ${r.code}: ${r.stderr || r.stdout}`).join("; ")}`,
    );
  }
}

/**
 * Resolves one approval from `processes` child processes at once; returns how many won and lost.
 */
export async function raceApprovalResolvers(
  options: {
    url: string;
    approvalId: string;
    processes: number;
  } & ChildStoreOptions,
): Promise<{ won: number; lost: number; other: string[] }> {
  const file = script("resolver", RESOLVER);
  const results = await Promise.all(
    Array.from({ length: options.processes }, (_, p) =>
      collect(run(file, [options.url, options.approvalId, `human-${p}`], options)),
    ),
  );
  const lines = results.map((r) => r.stdout.trim());
  return {
    won: lines.filter((l) => l === "won").length,
    lost: lines.filter((l) => l === "lost").length,
    other: lines
      .filter((l) => l !== "won" && l !== "lost")
      .concat(results.filter((r) => r.code !== 0).map((r) => r.stderr)),
  };
}

/**
 * Runs a child that records in strict durability and prints each event id once `commit` resolved,
 * kills it with SIGKILL after a random delay, and returns the ids it had seen acknowledged.
 */
export async function killRecorderAtRandom(
  options: {
    url: string;
    spool: string;
    minMs: number;
    maxMs: number;
  } & ChildStoreOptions,
): Promise<string[]> {
  const file = script("crasher", CRASHER);
  const child = run(file, [options.url, options.spool], options);
  const done = collect(child);
  let out = "";
  // The kill lands at a random moment once the recorder has acknowledged its first event: on a
  // loaded machine its first commit can take longer than the whole random window, and a kill
  // before any acknowledgement would test nothing.
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready\n") && /\n[0-9a-f-]{36}\n/.test(out)) {
        child.stdout?.off("data", onData);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.on("close", (code) =>
      reject(new Error(`the recorder exited before it was ready (code ${code})`)),
    );
  }).catch(async (err: Error) => {
    const r = await done;
    throw new Error(`${err.message}: ${r.stderr}`);
  });
  const delay = options.minMs + Math.random() * (options.maxMs - options.minMs);
  await new Promise((r) => setTimeout(r, delay));
  child.kill("SIGKILL");
  const result = await done;
  // Only whole lines count: a line cut by the kill was never fully acknowledged.
  const text = result.stdout;
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  return complete.split("\n").filter((l) => /^[0-9a-f-]{36}$/.test(l));
}
