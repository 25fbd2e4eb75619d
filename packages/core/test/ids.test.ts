import { describe, expect, it } from "vitest";
import { isUuid, newSpanId, newTraceId, uuidFromName, uuidv7, uuidv7Time } from "../src/index.js";

describe("ids", () => {
  it("makes UUIDv7s that are unique and sort in creation order, even within one millisecond", () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids.slice(0, 100)) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });

  it("embeds the creation time", () => {
    const before = Date.now();
    const t = uuidv7Time(uuidv7())!;
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now() + 5);
    expect(uuidv7Time("not-a-uuid")).toBeUndefined();
  });

  it("derives stable name-based ids", () => {
    expect(uuidFromName("a")).toBe(uuidFromName("a"));
    expect(uuidFromName("a")).not.toBe(uuidFromName("b"));
    expect(isUuid(uuidFromName("a"))).toBe(true);
    expect(uuidFromName("a")[14]).toBe("8");
  });

  it("makes OpenTelemetry-shaped span and trace ids", () => {
    expect(newSpanId()).toMatch(/^[0-9a-f]{16}$/);
    expect(newTraceId()).toMatch(/^[0-9a-f]{32}$/);
  });
});
