import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditEvent, AuditStore } from "@audit/core";
import { runStoreConformance, type TestApi } from "@audit/test-suite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type JsonlRotation, JsonlStore } from "../src/index.js";

const t = { describe, it, expect, beforeEach, afterEach } as unknown as TestApi;

// The files themselves, parsed without the store's reading code.
function readRaw(store: AuditStore): Promise<AuditEvent[]> {
  const dir = (store as JsonlStore).dir;
  const events: AuditEvent[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".jsonl"))) {
    for (const line of readFileSync(join(dir, f), "utf8").split("\n"))
      if (line) events.push(JSON.parse(line) as AuditEvent);
  }
  return Promise.resolve(events);
}

const rotations: [string, JsonlRotation][] = [
  ["daily", "daily"],
  ["single", "single"],
  ["size-rotated", { maxBytes: 64 * 1024 }],
];

for (const [label, rotation] of rotations) {
  let dir: string;
  runStoreConformance(t, {
    name: `JsonlStore (${label})`,
    create: async () => {
      dir = mkdtempSync(join(tmpdir(), "audit-jsonl-"));
      return new JsonlStore({ dir, rotation });
    },
    reopen: async (store) => {
      await store.close();
      return new JsonlStore({ dir: (store as JsonlStore).dir, rotation });
    },
    readRaw,
    cleanup: async () => {
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
