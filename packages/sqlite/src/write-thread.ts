import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { INSERT_COLUMNS, type InsertRow } from "./row-layout.js";

/** The insert statement shared by both write paths: a repeated id is skipped, never replaced. */
export const INSERT_SQL = `INSERT OR IGNORE INTO audit_events (${INSERT_COLUMNS}) VALUES (${Array(17).fill("?").join(", ")})`;

// The worker is plain CommonJS evaluated from a string, so it needs no file of its own next to the
// bundle; the driver is loaded from the path the main thread resolved.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driverPath);
const db = new Database(workerData.filename, { timeout: workerData.busyTimeoutMs });
db.pragma("busy_timeout = " + workerData.busyTimeoutMs);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = " + workerData.synchronous);
const insert = db.prepare(workerData.insertSql);
// As bindRow in row-layout.ts: a lowercase hex SHA-256 is stored as its 32 bytes.
const HASH = /^[0-9a-f]{64}$/;
const tx = db.transaction((rows) => {
  let added = 0;
  for (const r of rows) {
    if (typeof r[13] === "string" && HASH.test(r[13])) r[13] = Buffer.from(r[13], "hex");
    if (typeof r[14] === "string" && HASH.test(r[14])) r[14] = Buffer.from(r[14], "hex");
    added += insert.run(r).changes;
  }
  return added;
});
parentPort.on("message", (m) => {
  if (m.close) {
    db.close();
    parentPort.postMessage({ id: m.id, ok: true, added: 0 });
    return;
  }
  try {
    parentPort.postMessage({ id: m.id, ok: true, added: tx.immediate(m.rows) });
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, message: String(e && e.message), code: e && e.code });
  }
});
`;

interface Reply {
  id: number;
  ok: boolean;
  added: number;
  message?: string;
  code?: string;
}

/**
 * Runs the inserts of a file database on a worker thread with its own connection, so a large batch
 * (and its fsync) never blocks the agent's event loop. Reads stay on the main thread: WAL lets
 * them run beside the writer.
 */
export class WriteThread {
  readonly #worker: Worker;
  readonly #pending = new Map<
    number,
    { resolve: (n: number) => void; reject: (e: Error) => void }
  >();
  #next = 0;
  #failed: Error | undefined;

  constructor(filename: string, busyTimeoutMs: number, synchronous: "FULL" | "NORMAL") {
    const driverPath = createRequire(import.meta.url).resolve("better-sqlite3");
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // The worker's source is CommonJS: flags of the main program (--input-type=module, say)
      // must not change how it is read.
      execArgv: [],
      workerData: { filename, busyTimeoutMs, synchronous, driverPath, insertSql: INSERT_SQL },
    });
    this.#worker.on("message", (m: Reply) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) this.#worker.unref();
      if (m.ok) p.resolve(m.added);
      else p.reject(Object.assign(new Error(m.message ?? "write failed"), { code: m.code }));
    });
    const fail = (err: Error) => {
      this.#failed = err;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    this.#worker.on("error", fail);
    this.#worker.on("exit", (code) => fail(new Error(`the write thread exited (code ${code})`)));
    // Idle, the thread must not keep the process alive; it is referenced while writes are pending.
    // (After the listeners: adding a "message" listener references the worker again.)
    this.#worker.unref();
  }

  #send(message: object): Promise<number> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    return new Promise<number>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.ref();
      this.#worker.postMessage({ ...message, id });
    });
  }

  /** Inserts the rows in one immediate transaction; resolves with how many were new. */
  insert(rows: InsertRow[]): Promise<number> {
    return this.#send({ rows });
  }

  /** Closes the worker's connection and stops the thread. */
  async close(): Promise<void> {
    if (!this.#failed) await this.#send({ close: true }).catch(() => 0);
    this.#failed ??= new Error("closed");
    await this.#worker.terminate();
  }
}
