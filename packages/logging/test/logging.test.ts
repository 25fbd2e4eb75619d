import { Writable } from "node:stream";
import { type AuditEvent, Auditor, MemoryStore } from "@audit/core";
import pino from "pino";
import { describe, expect, it } from "vitest";
import winston from "winston";
import { LoggingExporter } from "../src/index.js";

/** Records an agent run whose events cover every level. */
async function recordRun(exporter: LoggingExporter): Promise<AuditEvent[]> {
  const store = new MemoryStore();
  const audit = new Auditor({ store, spool: false, exporters: [exporter], integrity: false });
  const run = audit.startRun({ agent: "bot", sessionId: "s-1" });
  audit.record({ type: "note.low", risk: "low", runId: run.runId });
  audit.record({ type: "note.medium", risk: "medium", runId: run.runId });
  audit.record({ type: "note.critical", risk: "critical", runId: run.runId });
  run.policy({ policy: "pii", decision: "deny" });
  await run.tool("boom", {}, () => Promise.reject(new Error("x"))).catch(() => undefined);
  await run.fail(new Error("gave up"));
  await audit.close();
  return store.query();
}

function lines(): { stream: Writable; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n")) if (l) records.push(JSON.parse(l));
      cb();
    },
  });
  return { stream, records };
}

const expectedLevels: Record<string, string> = {
  "run.start": "info",
  "note.low": "debug",
  "note.medium": "info",
  "note.critical": "error",
  "policy.decision": "warn",
  "tool.start": "info",
  "tool.error": "warn",
  "run.end": "warn",
};

describe("pino", () => {
  it("logs one structured record per event with its ids, at the level of its risk", async () => {
    const { stream, records } = lines();
    const logger = pino({ level: "debug" }, stream);
    const events = await recordRun(new LoggingExporter({ logger }));
    const names: Record<number, string> = { 20: "debug", 30: "info", 40: "warn", 50: "error" };
    expect(records).toHaveLength(events.length);
    for (const r of records) {
      expect(names[r.level as number], String(r.eventType)).toBe(
        expectedLevels[r.eventType as string],
      );
      const e = events.find((x) => x.id === r.eventId)!;
      expect([r.eventType, r.eventTime, r.runId, r.actor]).toEqual([
        e.type,
        e.time,
        e.runId,
        e.actor,
      ]);
      expect(r.data).toEqual(e.data);
    }
    const toolError = records.find((r) => r.eventType === "tool.error")!;
    expect(toolError.msg).toBe("tool.error boom");
    expect(toolError.spanId).toBeDefined();
    expect(records.find((r) => r.eventType === "run.start")!.sessionId).toBe("s-1");
  });
});

describe("winston", () => {
  it("logs one structured record per event, levels mapped the same way", async () => {
    const { stream, records } = lines();
    const logger = winston.createLogger({
      level: "debug",
      format: winston.format.json(),
      transports: [new winston.transports.Stream({ stream })],
    });
    const events = await recordRun(new LoggingExporter({ logger }));
    await new Promise((r) => setTimeout(r, 50));
    expect(records).toHaveLength(events.length);
    for (const r of records) {
      expect(r.level, String(r.eventType)).toBe(expectedLevels[r.eventType as string]);
      expect(typeof r.message).toBe("string");
      expect(r.eventId).toBe(events.find((x) => x.id === r.eventId)!.id);
    }
  });
});

describe("any leveled logger", () => {
  it("takes console-style loggers, custom levels, and reports a throwing logger without losing the store", async () => {
    const calls: [string, unknown[]][] = [];
    const logger = {
      debug: (...a: unknown[]) => calls.push(["debug", a]),
      info: (...a: unknown[]) => calls.push(["info", a]),
      warn: (...a: unknown[]) => calls.push(["warn", a]),
      error: (...a: unknown[]) => calls.push(["error", a]),
    };
    const exporter = new LoggingExporter({
      logger,
      levels: { low: "info" },
      failureLevel: "error",
    });
    const events = await recordRun(exporter);
    expect(calls).toHaveLength(events.length);
    const [level, args] = calls.find(
      ([, a]) => (a[1] as { eventType: string }).eventType === "note.low",
    )!;
    expect(level).toBe("info");
    expect(typeof args[0]).toBe("string");
    expect(
      calls.find(([, a]) => (a[1] as { eventType: string }).eventType === "tool.error")![0],
    ).toBe("error");

    const store = new MemoryStore();
    const errors: unknown[] = [];
    const broken = new LoggingExporter({
      logger: {
        ...logger,
        info: () => {
          throw new Error("disk full");
        },
      },
    });
    const audit = new Auditor({
      store,
      spool: false,
      exporters: [broken],
      onError: (e) => errors.push(e),
    });
    audit.record({ type: "x" });
    await audit.close();
    expect(await store.count({ type: "x" })).toBe(1);
    expect(String(errors[0])).toMatch(/disk full/);
    expect(() => new LoggingExporter({ levels: { low: "verbose" as "debug" } })).toThrow(
      /unknown level/,
    );
  });
});
