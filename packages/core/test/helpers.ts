import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AuditEvent,
  type AuditFilter,
  type AuditStore,
  MemoryStore,
  type PruneOptions,
  uuidv7,
} from "../src/index.js";

/**
 * A real MemoryStore behind a switch that makes `append` fail, for testing the auditor's retry and
 * spool paths. `ambiguous` failures write the batch and then throw, like a lost acknowledgement.
 */
export class SwitchableStore implements AuditStore {
  readonly id = "switchable";
  readonly inner = new MemoryStore({ maxEvents: 10_000_000 });
  readonly capabilities = this.inner.capabilities;
  failures = 0;
  down = false;
  ambiguous = false;
  appendCalls = 0;
  failedCalls = 0;
  /** Makes each append wait this long, to simulate a stalled store. */
  delayMs = 0;

  async append(events: readonly AuditEvent[]): Promise<void> {
    this.appendCalls++;
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.down || this.failures > 0) {
      if (this.failures > 0) this.failures--;
      this.failedCalls++;
      if (this.ambiguous) await this.inner.append(events);
      throw new Error("connection reset");
    }
    await this.inner.append(events);
  }
  query(f?: AuditFilter) {
    return this.inner.query(f);
  }
  stream(f?: AuditFilter) {
    return this.inner.stream(f);
  }
  get(id: string) {
    return this.inner.get(id);
  }
  count(f?: AuditFilter) {
    return this.inner.count(f);
  }
  prune(o: PruneOptions) {
    return this.inner.prune(o);
  }
  async close() {}
}

const created: string[] = [];

/** Removes every directory made by {@link tempDir}; run after each test file (see setup.ts). */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A fresh temporary directory, removed after the test file. */
export function tempDir(prefix = "audit-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export const noError = () => {};

/** `n` valid events one millisecond apart. */
export function makeEvents(n: number): AuditEvent[] {
  const base = Date.parse("2026-01-01T00:00:00.000Z");
  return Array.from({ length: n }, (_, i) => ({
    id: uuidv7(),
    type: "tool.start",
    time: new Date(base + i).toISOString(),
    data: { tool: "search", callId: String(i) },
  }));
}
