import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditStore } from "@audit/core";
import { type Fixture, HarnessError, type ProcessHarness, type StoreHarness } from "./harness.js";
import { moduleUrl } from "./processes.js";

/** A store's `createStoreFromUrl`, as the adapter module exports it. */
type StoreFromUrl = (url: string) => AuditStore | Promise<AuditStore>;

/** The harness's process hook, or a harness error saying why the test needs it. */
export function processHook(h: StoreHarness, why: string): ProcessHarness {
  if (h.processes) return h.processes;
  throw new HarnessError(
    `${h.name} ${why}, but the harness gives no processes hook: add processes: { module, location } ` +
      "(the adapter's built module exporting createStoreFromUrl, and a URL of a new location) so " +
      "the suite can open one location from several stores and processes",
  );
}

/**
 * A new location for one test, removed after it, and a way to open stores on it in this process
 * through the adapter module (closed after the test too).
 */
export async function sharedLocation(
  f: Fixture,
  p: ProcessHarness,
): Promise<{ url: string; open(): Promise<AuditStore> }> {
  const url = await p.location();
  f.defer(() => p.remove?.(url));
  const mod = (await import(moduleUrl(p.module))) as { createStoreFromUrl?: StoreFromUrl };
  const createStoreFromUrl = mod.createStoreFromUrl;
  if (typeof createStoreFromUrl !== "function") {
    throw new HarnessError(`${p.module} does not export createStoreFromUrl(url)`);
  }
  return {
    url,
    open: async () => {
      const store = await createStoreFromUrl(url);
      f.defer(() => store.close());
      return store;
    },
  };
}

/** A temporary directory for one test (a crash test's spool), removed after it. */
export function tempDir(f: Fixture, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  f.defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Files left in a directory, or none when it does not exist. */
export function filesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
