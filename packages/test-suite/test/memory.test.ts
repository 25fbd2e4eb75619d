import { MemoryStore, NullStore } from "@audit/core";
import { describe, expect, it } from "vitest";
import { makeEvents, runStoreConformance } from "../src/index.js";

// The three-line form an adapter author writes: no hooks, so each test opens and closes its store.
runStoreConformance(
  { describe, it, expect },
  { name: "MemoryStore", create: () => new MemoryStore() },
);

describe("MemoryStore bound", () => {
  it("evicts the oldest events past maxEvents and counts them", async () => {
    const store = new MemoryStore({ maxEvents: 100 });
    const events = makeEvents(150, (i) => ({
      time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    }));
    await store.append(events);
    expect(await store.count()).toBe(100);
    expect(store.evicted).toBe(50);
    expect((await store.query({ limit: 1 }))[0]!.id).toBe(events[50]!.id);
  });
});

describe("NullStore", () => {
  it("accepts valid batches, keeps nothing, and still refuses bad input", async () => {
    const store = new NullStore();
    await store.append(makeEvents(3));
    expect(await store.count()).toBe(0);
    expect(await store.query()).toEqual([]);
    await expect(store.append([{ id: "x" } as never])).rejects.toThrow(/type/);
    await store.close();
    await expect(store.append([])).rejects.toThrow(/closed/);
  });
});
