import { readFileSync, statSync } from "node:fs";
import BetterSqlite3, { type Database } from "better-sqlite3";

/**
 * Opens an existing database read-only. A database in WAL mode needs its `-shm` file, which SQLite
 * creates beside it; in a directory this process cannot write (an archive, a read-only mount) that
 * fails, so the file is then read into memory instead, as a snapshot, with its header switched to
 * rollback mode (the on-disk file is never touched). That fallback needs the WAL to be
 * checkpointed — the case after every clean close; with a non-empty `-wal` file beside it, it refuses
 * rather than show a trail without its last commits.
 */
export function openReadOnly(filename: string, timeoutMs: number): Database {
  const db = new BetterSqlite3(filename, {
    readonly: true,
    fileMustExist: true,
    timeout: timeoutMs,
  });
  try {
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    return db;
  } catch (err) {
    db.close();
    const code = (err as { code?: string }).code;
    if (code !== "SQLITE_READONLY_DIRECTORY" && code !== "SQLITE_CANTOPEN") throw err;
  }
  // An empty -wal (such as one a read-only reader left behind) holds nothing the snapshot would miss.
  const wal = statSync(`${filename}-wal`, { throwIfNoEntry: false });
  if (wal !== undefined && wal.size > 0) {
    throw new Error(
      `its directory is not writable and a ${filename}-wal file holds commits not yet in the database; open it once with write access, or copy the files to a writable directory`,
    );
  }
  const bytes = readFileSync(filename);
  // Bytes 18 and 19 of the header are the write and read format versions: 2 is WAL, 1 rollback.
  if (bytes[18] === 2) bytes[18] = 1;
  if (bytes[19] === 2) bytes[19] = 1;
  return new BetterSqlite3(bytes, { readonly: true });
}
