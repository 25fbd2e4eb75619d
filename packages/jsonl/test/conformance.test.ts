import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { AuditEvent, AuditStore } from "@audit/core";
import { type ProcessHarness, runStoreConformance } from "@audit/test-suite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type JsonlRotation, JsonlStore } from "../src/index.js";

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

// Each rotation, with the URL query that selects it for stores opened by child processes. The
// layouts other than the default run the multi-process area smaller: the write path is the same.
const rotations: [string, JsonlRotation, string, Partial<ProcessHarness>][] = [
  ["daily", "daily", "", {}],
  ["single", "single", "?rotation=single", { eventsPerWriter: 2000, crashRounds: 5 }],
  [
    "size-rotated",
    { maxBytes: 64 * 1024 },
    "?maxBytes=65536",
    { eventsPerWriter: 2000, crashRounds: 5 },
  ],
];

for (const [label, rotation, query, size] of rotations) {
  let dir: string;
  runStoreConformance(
    { describe, it, expect, beforeEach, afterEach },
    {
      name: `JsonlStore (${label})`,
      create: () => {
        dir = mkdtempSync(join(tmpdir(), "audit-jsonl-"));
        return new JsonlStore({ dir, rotation });
      },
      reopen: async (store) => {
        await store.close();
        return new JsonlStore({ dir: (store as JsonlStore).dir, rotation });
      },
      readRaw,
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
      // Child processes open the directory through the built package; it does not exist yet.
      processes: {
        module: new URL("../dist/index.js", import.meta.url).href,
        location: () =>
          `jsonl:${join(mkdtempSync(join(tmpdir(), "audit-jsonl-proc-")), "trail")}${query}`,
        remove: (url) =>
          rmSync(dirname(url.slice("jsonl:".length).split("?")[0]!), {
            recursive: true,
            force: true,
          }),
        ...size,
      },
    },
  );
}
