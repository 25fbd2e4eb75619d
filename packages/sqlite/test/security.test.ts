import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditConfigError, Auditor, openStore, StoreError, uuidv7, verifyChain } from "@audit/core";
import { afterEach, describe, expect, it } from "vitest";
import { createStoreFromUrl, SqliteStore } from "../src/index.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) {
    chmodSync(d, 0o755);
    rmSync(d, { recursive: true, force: true });
  }
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "audit-sqlite-sec-"));
  dirs.push(d);
  return d;
}

const mode = (path: string) => statSync(path).mode & 0o777;
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

async function writeTrail(filename: string, events = 20): Promise<void> {
  const store = new SqliteStore({ filename });
  const audit = new Auditor({ store, spool: false });
  for (let i = 0; i < events; i++) audit.record({ type: "note.added", data: { i } });
  await audit.close();
  // The auditor leaves a store it was given open; closing it checkpoints the WAL into the file.
  await store.close();
}

describe("file modes", () => {
  it("creates the database, its -wal and its -shm 0600 even with umask 000", async () => {
    const previous = process.umask(0o000);
    try {
      for (const writeThread of [true, false]) {
        const filename = join(tempDir(), "audit.db");
        const store = new SqliteStore({ filename, writeThread });
        await store.append([
          { id: uuidv7(), type: "x.y", time: new Date().toISOString(), data: { a: 1 } },
        ]);
        // While the store is open the WAL and its index exist beside the database.
        for (const f of [filename, `${filename}-wal`, `${filename}-shm`]) {
          expect(`${f.slice(-8)} ${mode(f).toString(8)}`).toBe(`${f.slice(-8)} 600`);
        }
        await store.close();
        expect(mode(filename)).toBe(0o600);
      }
    } finally {
      process.umask(previous);
    }
  });
});

describe("a read-only database", () => {
  it("is queried and verified with ?readOnly=true, and refuses writes without touching the file", async () => {
    const filename = join(tempDir(), "audit.db");
    await writeTrail(filename);
    const before = sha(filename);
    const store = await openStore(`sqlite:${filename}?readOnly=true`);
    expect((store as SqliteStore).readOnly).toBe(true);
    expect(await store.count()).toBe(21); // 20 notes and the closing checkpoint
    expect((await verifyChain(store)).ok).toBe(true);
    const event = { id: uuidv7(), type: "x.y", time: new Date().toISOString(), data: {} };
    await expect(store.append([event])).rejects.toThrow(StoreError);
    await expect(store.append([event])).rejects.toThrow(/read-only/);
    await expect(store.prune({ keep: 0 })).rejects.toThrow(/read-only/);
    await store.close();
    expect(sha(filename)).toBe(before);
  });

  it("refuses to open read-only a file that holds no trail, and an in-memory database", async () => {
    const filename = join(tempDir(), "other.db");
    writeFileSync(filename, "");
    expect(() => new SqliteStore({ filename, readOnly: true })).toThrow(/holds no audit trail/);
    expect(() => new SqliteStore({ filename: ":memory:", readOnly: true })).toThrow(
      AuditConfigError,
    );
  });

  // Root may write any file: run as root, the reader is a child process of the unprivileged user
  // nobody; otherwise a child process of the same user, who cannot write a 0444 file either.
  it("opens by itself read-only for a user who cannot write the file, even in a read-only directory", async () => {
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const filename = join(dir, "audit.db");
    await writeTrail(filename, 5);
    chmodSync(filename, 0o444);
    const script = `
      import { SqliteStore } from "@audit/sqlite";
      import { verifyChain } from "@audit/core";
      const store = new SqliteStore({ filename: ${JSON.stringify(filename)} });
      const report = await verifyChain(store);
      let refused = "";
      await store.append([]).catch((e) => { refused = e.message; });
      console.log(JSON.stringify({ readOnly: store.readOnly, count: await store.count(), ok: report.ok, refused }));
      await store.close();
    `;
    const reader = (): Record<string, unknown> => {
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        cwd: join(import.meta.dirname, ".."),
        ...asNobody,
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(r.stderr).toBe("");
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    const expected = {
      readOnly: true,
      count: 6,
      ok: true,
      refused: expect.stringMatching(/read-only/),
    };
    // The directory is writable by the reader: SQLite keeps its shared-memory index beside it.
    chmodSync(dir, 0o777);
    expect(reader()).toEqual(expected);
    // A read-only directory (an archive): the file is read as a snapshot.
    chmodSync(dir, 0o555);
    expect(reader()).toEqual(expected);
    expect(mode(filename)).toBe(0o444);
  });
});

describe("URL errors", () => {
  it("never repeat a secret the URL holds", () => {
    for (const url of [
      "sqlite:./a.db?password=hunter2-sqlite",
      "sqlite:./a.db?maxEvents=x&token=hunter2-sqlite",
      "sqlite:?token=hunter2-sqlite",
    ]) {
      let message = "";
      try {
        createStoreFromUrl(url);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).not.toBe("");
      expect(message).not.toContain("hunter2-sqlite");
    }
  });
});
