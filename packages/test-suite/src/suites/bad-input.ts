import { type AuditEvent, type AuditFilter, AuditValidationError } from "@audit/core";
import { makeEvent } from "../events.js";
import type { StoreHarness, TestApi } from "../harness.js";
import { storeTests } from "../store-tests.js";

/** Bad input: every malformed event is refused with a clear error and nothing is written. */
export function badInputSuite(t: TestApi, h: StoreHarness): void {
  t.describe(`${h.name}: bad input`, () => {
    const test = storeTests(t, h);
    const cases: [string, unknown][] = [
      ["missing id", { ...makeEvent(), id: undefined }],
      ["empty id", { ...makeEvent(), id: "" }],
      ["uppercase type", { ...makeEvent(), type: "Tool.Start" }],
      ["time without milliseconds", { ...makeEvent(), time: "2026-01-01T00:00:00Z" }],
      ["time not a date", { ...makeEvent(), time: "yesterday" }],
      ["data an array", { ...makeEvent(), data: [1, 2] }],
      ["data missing", { ...makeEvent(), data: undefined }],
      ["unknown risk", { ...makeEvent(), risk: "extreme" }],
      ["actor not a string", { ...makeEvent(), actor: 42 }],
      ["not an object", "event"],
    ];
    for (const [name, bad] of cases) {
      test(`refuses an event with ${name}`, async (f) => {
        await t.expect(f.store.append([bad as AuditEvent])).rejects.toThrow(AuditValidationError);
        t.expect(await f.store.count()).toBe(0);
      });
    }

    test("refuses malformed filters instead of matching everything", async (f) => {
      await t
        .expect(f.store.query({ nope: 1 } as AuditFilter))
        .rejects.toThrow(AuditValidationError);
      await t.expect(f.store.query({ limit: -1 })).rejects.toThrow(AuditValidationError);
      await t.expect(f.store.query({ since: "not a time" })).rejects.toThrow(AuditValidationError);
      await t
        .expect(f.store.query({ risk: "severe" as "high" }))
        .rejects.toThrow(AuditValidationError);
      await t.expect(f.store.query({ type: "to*l" })).rejects.toThrow(AuditValidationError);
      await t.expect(f.store.prune({})).rejects.toThrow(AuditValidationError);
    });
  });
}
