import { describe, expect, it } from "vitest";
import {
  AdapterNotInstalledError,
  AuditConfigError,
  ConsoleExporter,
  exportersFromEnv,
  MemoryStore,
  NullStore,
  openStore,
  registerStore,
  supportedSchemes,
} from "../src/index.js";

describe("openStore", () => {
  it("opens the built-in memory and null stores", async () => {
    expect(await openStore("memory:")).toBeInstanceOf(MemoryStore);
    expect(await openStore("null:")).toBeInstanceOf(NullStore);
    const bounded = (await openStore("memory:?maxEvents=5")) as MemoryStore;
    expect(bounded).toBeInstanceOf(MemoryStore);
    await expect(openStore("memory:?maxEvents=zero")).rejects.toThrow(/maxEvents/);
  });

  it("names the package and the install command when an adapter is not installed", async () => {
    for (const [url, pkg] of [
      ["postgres://localhost/db", "@audit/postgres"],
      ["postgresql://localhost/db", "@audit/postgres"],
    ] as const) {
      const err = await openStore(url).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AdapterNotInstalledError);
      expect((err as AdapterNotInstalledError).packageName).toBe(pkg);
      expect((err as Error).message).toContain(`npm install ${pkg}`);
    }
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
    await expect(exportersFromEnv("otel")).rejects.toThrow(AdapterNotInstalledError);
  });
});
