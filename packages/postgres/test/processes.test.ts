import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Auditor, verifyChain } from "@audit/core";
import { raceApprovalResolvers, runConcurrentWriters } from "@audit/test-suite";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresStore } from "../src/index.js";
import { dropSchema, freshSchema, PG_URL, serverAvailable, urlFor } from "./postgres.js";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const available = await serverAvailable();
const d = available ? describe : describe.skip;
const schemas: string[] = [];
afterAll(async () => {
  for (const s of schemas) await dropSchema(s);
});

d("many processes writing one PostgreSQL schema", () => {
  it("8 processes × 5,000 events: exact count, every chain verifies", async () => {
    const schema = freshSchema("multi");
    schemas.push(schema);
    // The schema does not exist yet: all eight race to migrate it too.
    await runConcurrentWriters({
      url: urlFor(schema),
      processes: 8,
      events: 5000,
      cwd: packageDir,
    });
    const store = new PostgresStore({ connectionString: PG_URL, schema });
    expect(await store.count({ type: "load.event" })).toBe(40_000);
    for (let p = 0; p < 8; p++)
      expect(await store.count({ type: "load.event", actor: `writer-${p}` })).toBe(5000);
    const report = await verifyChain(store, { requireClosed: true });
    expect(report.problems).toEqual([]);
    expect(report.chains).toHaveLength(8);
    await store.close();
  }, 300_000);

  it("lets exactly one of several processes resolve an approval", async () => {
    const schema = freshSchema("approve");
    schemas.push(schema);
    const store = new PostgresStore({ connectionString: PG_URL, schema });
    const agent = new Auditor({ store, spool: false });
    const approvalId = agent.startRun({ agent: "bot" }).requestApproval({ action: "refund" });
    await agent.close();
    const result = await raceApprovalResolvers({
      url: urlFor(schema),
      approvalId,
      processes: 6,
      cwd: packageDir,
    });
    expect(result).toEqual({ won: 1, lost: 5, other: [] });
    expect(await store.count({ type: "approval.resolve", approvalId })).toBe(1);
    await store.close();
  }, 120_000);
});
