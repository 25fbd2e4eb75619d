import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditStore } from "@audit/core";
import { PostgresStore } from "@audit/postgres";
import { SqliteStore } from "@audit/sqlite";
import pg from "pg";

/** The PostgreSQL server the tests use; the local one by default. It must answer: no skipping. */
export const PG_URL =
  process.env.AUDIT_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A real store and how to remove it. */
export interface StoreFixture {
  name: string;
  store: AuditStore;
  dispose(): Promise<void>;
}

/** A fresh SQLite file in a temp directory. */
export async function sqliteFixture(): Promise<StoreFixture> {
  const dir = mkdtempSync(join(tmpdir(), "audit-server-"));
  const store = new SqliteStore({ filename: join(dir, "audit.db"), pollIntervalMs: 50 });
  return {
    name: "sqlite",
    store,
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh schema on the test PostgreSQL server (named so parallel runs never collide). */
export async function postgresFixture(): Promise<StoreFixture> {
  const schema = `server_test_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL at ${PG_URL} did not answer (${(err as Error).message}); these tests need it: start it or set AUDIT_TEST_POSTGRES_URL`,
    );
  }
  await admin.end();
  const store = new PostgresStore({ connectionString: PG_URL, schema });
  return {
    name: "postgres",
    store,
    async dispose() {
      await store.close();
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    },
  };
}

/** One parsed Server-Sent Events frame. */
export interface SseFrame {
  id?: string;
  event?: string;
  data: string;
}

/** An open SSE response read frame by frame. */
export interface SseClient {
  status: number;
  headers: Headers;
  /** The next frame carrying data (waits up to `timeoutMs`). */
  next(timeoutMs?: number): Promise<SseFrame>;
  /** Frames until `n` were received. */
  take(n: number, timeoutMs?: number): Promise<SseFrame[]>;
  /** Resolves when a comment containing `text` was seen. */
  comment(text: string, timeoutMs?: number): Promise<void>;
  close(): void;
}

/** Opens an SSE stream with fetch and parses frames as they arrive. */
export async function openSse(url: string, headers: Record<string, string>): Promise<SseClient> {
  const abort = new AbortController();
  const res = await fetch(url, { headers, signal: abort.signal });
  const frames: SseFrame[] = [];
  const comments: string[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  void (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const frame: SseFrame = { data: "" };
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) comments.push(line.slice(1).trim());
            else if (line.startsWith("id: ")) frame.id = line.slice(4);
            else if (line.startsWith("event: ")) frame.event = line.slice(7);
            else if (line.startsWith("data: ")) data.push(line.slice(6));
          }
          if (data.length > 0) {
            frame.data = data.join("\n");
            frames.push(frame);
          }
          wake?.();
        }
      }
    } catch {
      // aborted
    }
    ended = true;
    wake?.();
  })();
  const waitFor = async (ready: () => boolean, timeoutMs: number, what: string) => {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (ended) throw new Error(`the stream ended while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  };
  return {
    status: res.status,
    headers: res.headers,
    async next(timeoutMs = 10_000) {
      await waitFor(() => frames.length > 0, timeoutMs, "a frame");
      return frames.shift()!;
    },
    async take(n, timeoutMs = 10_000) {
      await waitFor(() => frames.length >= n, timeoutMs, `${n} frames (have ${frames.length})`);
      return frames.splice(0, n);
    },
    async comment(text, timeoutMs = 10_000) {
      await waitFor(() => comments.some((c) => c.includes(text)), timeoutMs, `comment ${text}`);
    },
    close() {
      abort.abort();
    },
  };
}
