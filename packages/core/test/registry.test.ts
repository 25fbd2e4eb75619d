import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import {
  AuditConfigError,
  ConsoleExporter,
  exportersFromEnv,
  MemoryStore,
  NullStore,
  openStore,
  registerStore,
  supportedSchemes,
} from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));

describe("openStore", () => {
  it("opens the built-in memory and null stores", async () => {
    expect(await openStore("memory:")).toBeInstanceOf(MemoryStore);
    expect(await openStore("null:")).toBeInstanceOf(NullStore);
    const bounded = (await openStore("memory:?maxEvents=5")) as MemoryStore;
    expect(bounded).toBeInstanceOf(MemoryStore);
    await expect(openStore("memory:?maxEvents=zero")).rejects.toThrow(/maxEvents/);
    await expect(openStore("memory:?maxEvent=5")).rejects.toThrow(
      'unknown option "maxEvent" in the store URL; known: maxEvents',
    );
  });

  it("names the package and the install command when an adapter is not installed", () => {
    // In this workspace every adapter is installed, so ask from a directory outside it, in a
    // user's environment (no NODE_PATH from the package manager running the tests).
    const program = `
      const { openStore, exportersFromEnv, AdapterNotInstalledError } = await import(${JSON.stringify(pathToFileURL(join(here, "..", "dist", "index.js")).href)});
      for (const url of ["postgres://localhost/db", "postgresql://localhost/db", "sqlite:./a.db", "jsonl:./logs"]) {
        const err = await openStore(url).catch((e) => e);
        console.log(JSON.stringify({ url, missing: err instanceof AdapterNotInstalledError, pkg: err.packageName, message: err.message }));
      }
      const err = await exportersFromEnv("otel").catch((e) => e);
      console.log(JSON.stringify({ url: "AUDIT_EXPORTERS=otel", missing: err instanceof AdapterNotInstalledError, pkg: err.packageName, message: err.message }));`;
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => k !== "NODE_PATH" && !k.startsWith("npm_")),
    );
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", program], {
      cwd: mkdtempSync(join(tmpdir(), "audit-outside-")),
      env,
      encoding: "utf8",
      timeout: 30_000,
    });
    const results = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { url: string; missing: boolean; pkg: string; message: string });
    expect(results.map((r) => [r.url, r.missing, r.pkg])).toEqual([
      ["postgres://localhost/db", true, "@audit/postgres"],
      ["postgresql://localhost/db", true, "@audit/postgres"],
      ["sqlite:./a.db", true, "@audit/sqlite"],
      ["jsonl:./logs", true, "@audit/jsonl"],
      ["AUDIT_EXPORTERS=otel", true, "@audit/otel"],
    ]);
    expect(results[0]!.message).toContain("npm install @audit/postgres");
  });

  it("rejects unknown schemes and non-URLs, listing the supported schemes", async () => {
    await expect(openStore("redis://x")).rejects.toThrow(AuditConfigError);
    await expect(openStore("redis://x")).rejects.toThrow(/postgres:.*sqlite:/s);
    await expect(openStore("./audit.db")).rejects.toThrow(/not a store URL/);
    await expect(openStore("")).rejects.toThrow(/required/);
  });

  it("uses stores registered for a custom scheme", async () => {
    const store = new MemoryStore();
    registerStore("custom", () => store);
    expect(await openStore("custom://anything")).toBe(store);
    expect(supportedSchemes()).toContain("custom");
    expect(() => registerStore("Bad Scheme", () => store)).toThrow(AuditConfigError);
  });
});

describe("exportersFromEnv", () => {
  it("builds exporters from a comma-separated list", async () => {
    const list = await exportersFromEnv(" console , none ");
    expect(list).toHaveLength(1);
    expect(list[0]).toBeInstanceOf(ConsoleExporter);
    expect(await exportersFromEnv("")).toEqual([]);
    await expect(exportersFromEnv("carrier-pigeon")).rejects.toThrow(/unknown exporter/);
  });
});
