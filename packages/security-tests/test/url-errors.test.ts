import { openStore } from "@audit/core";
import { createStoreFromUrl as jsonlFromUrl } from "@audit/jsonl";
import { createStoreFromUrl as postgresFromUrl } from "@audit/postgres";
import { createStoreFromUrl as sqliteFromUrl } from "@audit/sqlite";
import { describe, expect, it } from "vitest";

// Store URLs often carry credentials (AUDIT_STORE=postgres://app:password@db/…), and their errors
// end up in logs and terminals: no error of any adapter or of openStore may repeat them.

const SECRET = "hunter2-url-secret";

async function messageOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return (err as Error).message;
  }
  return "";
}

describe("store URL errors", () => {
  const cases: [string, () => unknown][] = [
    ["openStore, unknown scheme", () => openStore(`mysql://app:${SECRET}@db/x`)],
    ["openStore, no scheme", () => openStore(`//app:${SECRET}@db/x`)],
    ["postgres, invalid URL", () => postgresFromUrl(`postgres://app:${SECRET}@db:99999/x`)],
    [
      "postgres, bad parameter",
      () => postgresFromUrl(`postgres://app:${SECRET}@db/x?maxConnections=no`),
    ],
    ["sqlite, unknown option", () => sqliteFromUrl(`sqlite:./a.db?token=${SECRET}`)],
    ["sqlite, not a SQLite URL", () => sqliteFromUrl(`sqlite:?password=${SECRET}`)],
    ["jsonl, unknown option", () => jsonlFromUrl(`jsonl:./logs?api_key=${SECRET}`)],
    ["jsonl, not a JSONL URL", () => jsonlFromUrl(`jsonl:?password=${SECRET}`)],
  ];
  for (const [name, fn] of cases) {
    it(`never repeat a password or token: ${name}`, async () => {
      const message = await messageOf(fn);
      expect(message).not.toBe("");
      expect(message).not.toContain(SECRET);
    });
  }
});
