import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditEvent } from "@audit/core";
import { runStoreConformance } from "@audit/test-suite";
import { describe, expect, it } from "vitest";
import { JsonFileStore } from "../src/index.js";

const fresh = () => mkdtempSync(join(tmpdir(), "audit-jsonfile-"));
let dir: string;

runStoreConformance(
  { describe, it, expect },
  {
    name: "JsonFileStore",
    create: () => {
      dir = fresh();
      return new JsonFileStore({ dir });
    },
    // persistent: events must survive closing and opening the directory again.
    reopen: async (store) => {
      await store.close();
      return new JsonFileStore({ dir });
    },
    // The file itself, parsed without the store's reading code.
    readRaw: async () => {
      try {
        return JSON.parse(readFileSync(join(dir, "events.json"), "utf8")) as AuditEvent[];
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw err;
      }
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
    // The store does not declare multiProcess, so no child process starts: the suite opens a
    // second store on a directory in use, in this process, and checks that it is refused.
    processes: {
      module: new URL("../src/index.ts", import.meta.url).href,
      location: () => `jsonfile:${fresh()}`,
      remove: (url) => rmSync(url.slice("jsonfile:".length), { recursive: true, force: true }),
    },
  },
);
