import { randomBytes } from "node:crypto";
import pg from "pg";

/** The server the tests use; the local one by default. */
export const PG_URL =
  process.env.AUDIT_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A URL for `schema` on the test server. */
export function urlFor(schema: string): string {
  const u = new URL(PG_URL);
  u.searchParams.set("schema", schema);
  return u.toString();
}

/** A new schema name no other test uses. */
export function freshSchema(prefix = "t"): string {
  return `${prefix}_${randomBytes(6).toString("hex")}`;
}

const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
admin.on("error", () => undefined);

/** Runs SQL as the test server's admin user. */
export function adminQuery(sql: string, params: unknown[] = []) {
  return admin.query(sql, params);
}

export async function dropSchema(schema: string): Promise<void> {
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/**
 * Whether the server answers. In CI (CI=true) an unreachable server is an error, never a skip.
 */
export async function serverAvailable(): Promise<boolean> {
  try {
    await admin.query("SELECT 1");
    return true;
  } catch (err) {
    if (process.env.CI === "true") {
      throw new Error(
        `PostgreSQL at ${PG_URL} is required in CI and did not answer: ${(err as Error).message}`,
      );
    }
    console.warn(
      `PostgreSQL at ${PG_URL} is not reachable; skipping its tests (set AUDIT_TEST_POSTGRES_URL)`,
    );
    return false;
  }
}
