import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  AdapterNotInstalledError,
  ApprovalConflictError,
  ApprovalNotFoundError,
  AuditConfigError,
  type AuditEvent,
  type AuditFilter,
  Auditor,
  type AuditStore,
  AuditValidationError,
  eventMatches,
  isRisk,
  openStore,
  resolveFilter,
  StoreError,
  verifyChain,
} from "@audit/core";
import { DOCTOR_HELP, doctor } from "./doctor.js";
import { evidence, verifyBundle } from "./evidence.js";
import { csvHeader, csvRow, escapeCell, type Format, summarize, table } from "./format.js";
import { assertKeysFitTrail, KEY_HELP, KEY_OPTIONS, writerIntegrity } from "./keys.js";
import { SERVE_HELP, ServeUsageError, serve } from "./serve.js";

/** Where the CLI writes, and what it knows of its environment. Tests pass their own. */
export interface CliIo {
  stdout: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Resolves when the user interrupts (`tail -f`); defaults to SIGINT. */
  interrupted?: Promise<void>;
}

/** A mistake in how the command was called: printed with a hint, exit code 2. */
class UsageError extends Error {}

const FILTER_OPTIONS = {
  store: { type: "string" },
  type: { type: "string", multiple: true },
  session: { type: "string" },
  run: { type: "string" },
  actor: { type: "string" },
  risk: { type: "string" },
  since: { type: "string" },
  until: { type: "string" },
  limit: { type: "string" },
  order: { type: "string" },
  after: { type: "string" },
  data: { type: "string", multiple: true },
  format: { type: "string", short: "o" },
  help: { type: "boolean", short: "h" },
} as const;

const FILTER_HELP = `Filters:
  --type T        event type or prefix pattern (tool.*); repeat for several
  --session ID    --run ID    --actor NAME
  --risk LEVEL    low | medium | high | critical (this level and above)
  --since T       1h, 7d, 30m or an ISO time (inclusive)    --until T (exclusive)
  --data K=V      top-level payload equality; repeat for several
  --limit N       at most N events          --order asc|desc
  --after ID      continue after this event id (keyset cursor)
Output:
  -o, --format F  table | json | jsonl | csv   (table on a terminal, jsonl otherwise)
Store:
  --store URL     sqlite:./audit.db, jsonl:./dir, postgres://…, memory: (default: AUDIT_STORE)`;

const HELP: Record<string, string> = {
  main: `audit — query, tail, verify and manage @audit trails

Usage: audit <command> [options]

Commands:
  query       list events matching filters
  tail        the newest events; -f to follow new ones
  get ID      one event
  run RUN_ID  a run as an indented tree with durations
  stats       counts by type, actor and risk, and the time range
  verify      check every hash chain (exit 1 on any problem)
  copy        copy a trail between any two backends (streaming, resumable)
  prune       delete old events, keeping the chains verifiable
  approvals   list pending approvals, or resolve one
  doctor      is the trail healthy? the store, the spool and the quarantine
  serve       web viewer, approvals inbox and HTTP API (needs @audit/server)
  evidence    proof of one run (events, Merkle proofs, signed checkpoints) to check offline
  verify-bundle  check an evidence bundle without the store

Every command takes --store URL (or AUDIT_STORE) and --help.

Examples:
  audit query --store sqlite:./audit.db --type 'tool.*' --since 1h
  AUDIT_STORE=jsonl:./audit-logs audit tail -f
  audit verify --store postgres://audit@db/app`,
  query: `audit query — list events matching filters

Usage: audit query [filters] [--format table|json|jsonl|csv]

${FILTER_HELP}

Examples:
  audit query --type 'tool.*' --since 1h
  audit query --session conv-42 --format json
  audit query --risk high --since 7d --limit 50 --order desc
  audit query --data tool=refund --format csv > refunds.csv`,
  tail: `audit tail — the newest events, and with -f every new one as it arrives

Usage: audit tail [-f] [-n N] [filters]

  -f, --follow      keep printing new events (live where the store supports it, polling otherwise)
  -n, --lines N     how many recent events to show first (default 20)
  --interval MS     polling interval with -f (default 1000)

${FILTER_HELP}

Examples:
  audit tail -n 50
  audit tail -f --type 'approval.*'`,
  get: `audit get — one event by id

Usage: audit get ID [--format json|table]

Examples:
  audit get 01890a5d-ac96-774b-bcce-b302099a8057`,
  run: `audit run — a run as a tree of its operations, with durations

Usage: audit run RUN_ID [--format table|json]

Examples:
  audit run 01890a5d-ac96-774b-bcce-b302099a8057`,
  stats: `audit stats — counts by type, actor and risk, and the time range

Usage: audit stats [filters] [--format table|json]

Examples:
  audit stats --since 24h
  audit stats --format json`,
  verify: `audit verify — check every hash chain; exit 1 and list each problem if any

Usage: audit verify [--key KEY] [--public-key FILE] [--witness URL] [--require-closed] [--allow-empty] [--format table|json]

  --key KEY          HMAC key of the chains (default: AUDIT_CHAIN_KEY)
  --public-key FILE  Ed25519 public key (PEM) to check checkpoint signatures
  --witness URL      a store holding witnessed checkpoints
  --require-closed   a chain without its final checkpoint is a problem
  --allow-empty      an existing store with no events is OK (otherwise it fails)

The store is opened read-only: a store that does not exist is an error, and nothing is created.

Examples:
  audit verify --store sqlite:./audit.db
  AUDIT_CHAIN_KEY=… audit verify --public-key audit-signing.pub --require-closed`,
  copy: `audit copy — copy a trail from one backend to another

Usage: audit copy --from URL --to URL [--resume] [--batch N] [filters]

Streams in order and writes in batches; copying again never duplicates (appends are idempotent by
id), and --resume starts after the newest event already in the target.

Examples:
  audit copy --from sqlite:./audit.db --to jsonl:./archive
  audit copy --from jsonl:./audit-logs --to postgres://audit@db/app --resume`,
  prune: `audit prune — delete old events; chains stay verifiable (prune checkpoints are written)

Usage: audit prune --before T | --keep N [--key-file FILE] [--signing-key-file FILE]

The prune checkpoints are written with the application's keys; a keyed or signed trail refuses
a prune without them.

${KEY_HELP}

Examples:
  audit prune --before 30d
  audit prune --keep 1000000
  AUDIT_KEY=… AUDIT_SIGNING_KEY=./signing.pem audit prune --before 90d`,
  doctor: DOCTOR_HELP,
  serve: SERVE_HELP,
  approvals: `audit approvals — human approvals

Usage:
  audit approvals list [--format table|json]
  audit approvals resolve ID --outcome OUTCOME --by NAME [--comment TEXT]

The first resolution wins; resolving one that is already resolved exits 1 and says who won.
The resolution is a link of a hash chain written with the application's keys: a keyed or signed
trail refuses a resolution without them.

${KEY_HELP}

Examples:
  audit approvals list
  audit approvals resolve 01890a5d-… --outcome approve --by alice --comment "ok for this customer"`,
};

function parse<
  T extends Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>,
>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function filterFrom(
  values: Record<string, unknown>,
  defaults: { limit?: number } = {},
): AuditFilter {
  const f: AuditFilter = {};
  const types = values.type as string[] | undefined;
  if (types && types.length > 0) f.type = types.length === 1 ? types[0]! : types;
  if (values.session) f.sessionId = values.session as string;
  if (values.run) f.runId = values.run as string;
  if (values.actor) f.actor = values.actor as string;
  if (values.risk !== undefined) {
    if (!isRisk(values.risk))
      throw new UsageError(`--risk must be low, medium, high or critical, not "${values.risk}"`);
    f.risk = values.risk;
  }
  if (values.since) f.since = values.since as string;
  if (values.until) f.until = values.until as string;
  if (values.after) f.after = values.after as string;
  if (values.order !== undefined) {
    if (values.order !== "asc" && values.order !== "desc")
      throw new UsageError(`--order must be asc or desc`);
    f.order = values.order;
  }
  const limit = values.limit ?? defaults.limit;
  if (limit !== undefined) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 0)
      throw new UsageError(`--limit must be a whole number, not "${limit}"`);
    f.limit = n;
  }
  for (const pair of (values.data as string[] | undefined) ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--data takes KEY=VALUE, not "${pair}"`);
    const raw = pair.slice(eq + 1);
    const value: string | number | boolean =
      raw === "true"
        ? true
        : raw === "false"
          ? false
          : raw !== "" && !Number.isNaN(Number(raw))
            ? Number(raw)
            : raw;
    f.data = { ...f.data, [pair.slice(0, eq)]: value };
  }
  return f;
}

function formatOf(values: Record<string, unknown>, io: CliIo, allowed: Format[]): Format {
  const f =
    (values.format as string | undefined) ??
    (io.stdout.isTTY ? "table" : allowed.includes("jsonl") ? "jsonl" : "json");
  if (!allowed.includes(f as Format))
    throw new UsageError(`--format must be one of ${allowed.join(", ")}, not "${f}"`);
  return f as Format;
}

async function storeFrom(
  url: string | undefined,
  io: CliIo,
  options?: { readOnly: boolean },
): Promise<AuditStore> {
  const u = url ?? io.env.AUDIT_STORE;
  if (!u)
    throw new UsageError("no store: pass --store URL or set AUDIT_STORE (e.g. sqlite:./audit.db)");
  return openStore(u, options);
}

function printEvents(
  events: readonly AuditEvent[],
  format: Format,
  io: CliIo,
  header = true,
): void {
  if (format === "json") io.stdout.write(JSON.stringify(events, null, 2) + "\n");
  else if (format === "jsonl") for (const e of events) io.stdout.write(JSON.stringify(e) + "\n");
  else if (format === "csv") {
    if (header) io.stdout.write(csvHeader());
    for (const e of events) io.stdout.write(csvRow(e));
  } else
    io.stdout.write(
      table(events, {
        color: io.stdout.isTTY === true && !io.env.NO_COLOR,
        width: io.stdout.columns ?? 160,
      }),
    );
}

async function query(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, FILTER_OPTIONS);
  if (values.help) return help("query", io);
  const filter = filterFrom(values, { limit: 100 });
  const format = formatOf(values, io, ["table", "json", "jsonl", "csv"]);
  const store = await storeFrom(values.store, io);
  try {
    if (format === "jsonl" || format === "csv") {
      // Streamed: constant memory whatever --limit says.
      if (format === "csv") io.stdout.write(csvHeader());
      for await (const e of store.stream(filter))
        io.stdout.write(format === "csv" ? csvRow(e) : JSON.stringify(e) + "\n");
    } else {
      printEvents(await store.query(filter), format, io);
    }
  } finally {
    await store.close();
  }
  return 0;
}

async function tail(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    ...FILTER_OPTIONS,
    follow: { type: "boolean", short: "f" },
    lines: { type: "string", short: "n" },
    interval: { type: "string" },
  });
  if (values.help) return help("tail", io);
  const filter = filterFrom(values);
  delete filter.limit;
  const lines = Number(values.lines ?? values.limit ?? 20);
  if (!Number.isInteger(lines) || lines < 0) throw new UsageError("-n must be a whole number");
  const format = formatOf(values, io, ["table", "jsonl", "json"]);
  const store = await storeFrom(values.store, io);
  const out = (events: AuditEvent[]) => {
    if (events.length === 0) return;
    if (format === "table")
      for (const e of events)
        io.stdout.write(
          `${escapeCell(`${e.time}  ${e.type}  ${e.actor ?? ""}`)}  ${summarize(e)}\n`,
        );
    else for (const e of events) io.stdout.write(JSON.stringify(e) + "\n");
  };
  try {
    const recent = (await store.query({ ...filter, order: "desc", limit: lines })).reverse();
    out(recent);
    if (!values.follow) return 0;
    const interrupted =
      io.interrupted ?? new Promise<void>((r) => process.once("SIGINT", () => r()));
    // Stores keep their polling timers from holding a process open; following must hold it.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    void interrupted.then(() => clearInterval(keepAlive));
    let last =
      recent[recent.length - 1]?.id ?? (await store.query({ order: "desc", limit: 1 }))[0]?.id;
    if (store.capabilities.subscribe && store.subscribe) {
      const stop = store.subscribe({ ...filter, order: "asc" }, (e) => out([e]));
      await interrupted;
      stop();
    } else {
      const interval = Number(values.interval ?? 1000);
      let stopped = false;
      void interrupted.then(() => {
        stopped = true;
      });
      const wanted = resolveFilter({ ...filter, order: "asc" });
      while (!stopped) {
        await Promise.race([new Promise((r) => setTimeout(r, interval)), interrupted]);
        if (stopped) break;
        // Poll by keyset: everything after the last event seen, then the filter.
        const fresh = await store.query({ order: "asc", ...(last && { after: last }) });
        if (fresh.length > 0) last = fresh[fresh.length - 1]!.id;
        out(fresh.filter((e) => eventMatches(wanted, e)));
      }
    }
  } finally {
    await store.close();
  }
  return 0;
}

// Options of the commands that take one id: get and run.
const ID_OPTIONS = {
  store: { type: "string" },
  format: { type: "string", short: "o" },
  help: { type: "boolean", short: "h" },
} as const;

async function get(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, ID_OPTIONS);
  if (values.help) return help("get", io);
  const id = positionals[0];
  if (!id) throw new UsageError("audit get needs an event id");
  const format = (values.format ?? "json") as Format;
  if (format !== "json" && format !== "table")
    throw new UsageError("--format must be json or table");
  const store = await storeFrom(values.store, io);
  try {
    const e = await store.get(id);
    if (!e) {
      io.stderr.write(`audit: no event with id ${id}\n`);
      return 1;
    }
    if (format === "json") io.stdout.write(JSON.stringify(e, null, 2) + "\n");
    else printEvents([e], format, io);
  } finally {
    await store.close();
  }
  return 0;
}

interface Node {
  event: AuditEvent;
  end?: AuditEvent;
  children: Node[];
}

async function runTree(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, ID_OPTIONS);
  if (values.help) return help("run", io);
  const runId = positionals[0];
  if (!runId) throw new UsageError("audit run needs a run id");
  const store = await storeFrom(values.store, io);
  let events: AuditEvent[];
  try {
    events = [];
    for await (const e of store.stream({ runId })) events.push(e);
  } finally {
    await store.close();
  }
  if (events.length === 0) {
    io.stderr.write(`audit: no events for run ${runId}\n`);
    return 1;
  }
  if (values.format === "json") {
    io.stdout.write(JSON.stringify(events, null, 2) + "\n");
    return 0;
  }
  // Operations are span ids: the start event opens a node, the end event closes it; everything
  // else hangs under the span it happened in.
  const bySpan = new Map<string, Node>();
  const roots: Node[] = [];
  const ends = new Set(["run.end", "tool.end", "tool.error"]);
  for (const e of events) {
    if (e.spanId && bySpan.has(e.spanId) && ends.has(e.type)) {
      bySpan.get(e.spanId)!.end = e;
      continue;
    }
    const node: Node = { event: e, children: [] };
    if (e.spanId && !bySpan.has(e.spanId)) bySpan.set(e.spanId, node);
    const parent = e.parentSpanId ? bySpan.get(e.parentSpanId) : undefined;
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  const line = (n: Node, depth: number) => {
    const e = n.event;
    const end = n.end;
    const duration =
      typeof end?.data.durationMs === "number"
        ? ` ${end.data.durationMs}ms`
        : typeof e.data.durationMs === "number"
          ? ` ${e.data.durationMs}ms`
          : "";
    const status = end
      ? end.type === "tool.error" || end.data.status === "error"
        ? " ✗"
        : " ✓"
      : "";
    const name =
      e.type === "run.start"
        ? `run ${e.data.agent ?? e.actor ?? ""}`.trim()
        : e.type === "tool.start"
          ? `tool ${e.data.tool}`
          : e.type;
    const detail = e.type === "run.start" || e.type === "tool.start" ? "" : `  ${summarize(e)}`;
    io.stdout.write(
      `${"  ".repeat(depth)}${escapeCell(name)}${status}${duration}${detail}  [${escapeCell(e.time)}]\n`,
    );
    for (const c of n.children) line(c, depth + 1);
  };
  for (const r of roots) line(r, 0);
  return 0;
}

async function stats(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, FILTER_OPTIONS);
  if (values.help) return help("stats", io);
  const filter = filterFrom(values);
  const store = await storeFrom(values.store, io);
  const byType: Record<string, number> = {};
  const byActor: Record<string, number> = {};
  const byRisk: Record<string, number> = {};
  let total = 0;
  let first: string | undefined;
  let last: string | undefined;
  try {
    for await (const e of store.stream(filter)) {
      total++;
      byType[e.type] = (byType[e.type] ?? 0) + 1;
      byActor[e.actor ?? "(none)"] = (byActor[e.actor ?? "(none)"] ?? 0) + 1;
      byRisk[e.risk ?? "(none)"] = (byRisk[e.risk ?? "(none)"] ?? 0) + 1;
      if (first === undefined || e.time < first) first = e.time;
      if (last === undefined || e.time > last) last = e.time;
    }
  } finally {
    await store.close();
  }
  const result = { total, first, last, byType, byActor, byRisk };
  if (values.format === "json") {
    io.stdout.write(JSON.stringify(result, null, 2) + "\n");
    return 0;
  }
  const section = (title: string, counts: Record<string, number>) => {
    io.stdout.write(`\n${title}\n`);
    const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    const w = Math.max(...entries.map(([k]) => k.length), 4);
    for (const [k, n] of entries) io.stdout.write(`  ${escapeCell(k).padEnd(w)}  ${n}\n`);
  };
  io.stdout.write(`events  ${total}\nfrom    ${first ?? "-"}\nto      ${last ?? "-"}\n`);
  section("by type", byType);
  section("by actor", byActor);
  section("by risk", byRisk);
  return 0;
}

async function verify(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    store: { type: "string" },
    key: { type: "string" },
    "public-key": { type: "string" },
    witness: { type: "string" },
    "require-closed": { type: "boolean" },
    "allow-empty": { type: "boolean" },
    format: { type: "string", short: "o" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return help("verify", io);
  let publicKey: string | undefined;
  if (values["public-key"]) {
    try {
      publicKey = readFileSync(values["public-key"], "utf8");
    } catch (err) {
      throw new UsageError(
        `cannot read the public key ${values["public-key"]}: ${(err as Error).message}`,
      );
    }
  }
  // Read-only: verifying a mistyped path must not create an empty store there.
  const store = await storeFrom(values.store, io, { readOnly: true });
  const witness = values.witness
    ? await openStore(values.witness, { readOnly: true }).catch(async (err: unknown) => {
        await store.close();
        throw err;
      })
    : undefined;
  try {
    const key = values.key ?? io.env.AUDIT_CHAIN_KEY;
    const report = await verifyChain(store, {
      ...(key && { key }),
      ...(publicKey && { publicKey }),
      ...(witness && { witness: witness.stream({ type: "audit.checkpoint" }) }),
      requireClosed: values["require-closed"] === true,
    });
    if (report.events === 0 && values["allow-empty"] !== true) {
      io.stderr.write(
        "audit verify: the store holds no events, so there is no trail to verify (pass --allow-empty if an empty trail is expected)\n",
      );
      return 1;
    }
    if (values.format === "json") {
      io.stdout.write(JSON.stringify(report, null, 2) + "\n");
    } else {
      io.stdout.write(`checked ${report.events} events in ${report.chains.length} chains\n`);
      for (const p of report.problems) io.stdout.write(`PROBLEM ${p.kind}: ${p.message}\n`);
      for (const w of report.warnings) io.stdout.write(`warning ${w.kind}: ${w.message}\n`);
      if (report.unlisted > 0) io.stdout.write(`… and ${report.unlisted} more problems\n`);
      io.stdout.write(
        report.ok
          ? "OK: every chain verifies\n"
          : `FAILED: ${report.problems.length + report.unlisted} problems\n`,
      );
    }
    return report.ok ? 0 : 1;
  } finally {
    await store.close();
    await witness?.close();
  }
}

async function copy(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    ...FILTER_OPTIONS,
    from: { type: "string" },
    to: { type: "string" },
    resume: { type: "boolean" },
    batch: { type: "string" },
    quiet: { type: "boolean", short: "q" },
  });
  if (values.help) return help("copy", io);
  if (!values.from || !values.to) throw new UsageError("audit copy needs --from URL and --to URL");
  const batchSize = Number(values.batch ?? 1000);
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new UsageError("--batch must be a whole number ≥ 1");
  const filter = filterFrom(values);
  filter.order = "asc";
  const from = await openStore(values.from);
  let to: AuditStore;
  try {
    to = await openStore(values.to);
  } catch (err) {
    await from.close();
    throw err;
  }
  try {
    if (values.resume) {
      // Appends are idempotent, so resuming only saves work: start after the target's newest event
      // if the source has it too.
      const [newest] = await to.query({ order: "desc", limit: 1 });
      if (newest && (await from.get(newest.id))) filter.after = newest.id;
    }
    const total = await from.count(filter);
    let done = 0;
    let batch: AuditEvent[] = [];
    const progress = (final = false) => {
      if (values.quiet) return;
      const pct = total === 0 ? 100 : Math.floor((done / total) * 100);
      if (io.stderr.isTTY) {
        const bar = "#".repeat(Math.floor(pct / 5)).padEnd(20, ".");
        io.stderr.write(`\r[${bar}] ${pct}% ${done}/${total}${final ? "\n" : ""}`);
      } else if (final) io.stderr.write(`copied ${done} of ${total} events\n`);
    };
    for await (const e of from.stream(filter)) {
      batch.push(e);
      if (batch.length >= batchSize) {
        await to.append(batch);
        done += batch.length;
        batch = [];
        progress();
      }
    }
    if (batch.length > 0) {
      await to.append(batch);
      done += batch.length;
    }
    progress(true);
  } finally {
    await Promise.all([from.close(), to.close()]);
  }
  return 0;
}

async function prune(args: string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    store: { type: "string" },
    before: { type: "string" },
    keep: { type: "string" },
    ...KEY_OPTIONS,
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return help("prune", io);
  if (values.before === undefined && values.keep === undefined)
    throw new UsageError("audit prune needs --before T or --keep N");
  const keep = values.keep === undefined ? undefined : Number(values.keep);
  if (keep !== undefined && (!Number.isInteger(keep) || keep < 0))
    throw new UsageError("--keep must be a whole number");
  const integrity = writerIntegrity(values, io.env);
  const store = await storeFrom(values.store, io);
  try {
    await assertKeysFitTrail(store, integrity);
  } catch (err) {
    await store.close();
    throw err;
  }
  // Through an auditor with the application's keys, so every pruned chain gets its prune
  // checkpoint, covered like the rest of the trail.
  const audit = new Auditor({ store, spool: false, actor: "audit-cli", integrity });
  try {
    const n = await audit.prune({
      ...(values.before !== undefined && { before: values.before }),
      ...(keep !== undefined && { keep }),
    });
    io.stdout.write(`pruned ${n} events\n`);
  } finally {
    await audit.close();
    await store.close();
  }
  return 0;
}

async function approvals(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parse(rest, {
    store: { type: "string" },
    outcome: { type: "string" },
    by: { type: "string" },
    comment: { type: "string" },
    format: { type: "string", short: "o" },
    ...KEY_OPTIONS,
    help: { type: "boolean", short: "h" },
  });
  if (values.help || sub === "--help" || sub === "-h" || sub === undefined)
    return help("approvals", io, sub === undefined ? 2 : 0);
  const integrity = writerIntegrity(values, io.env);
  const store = await storeFrom(values.store, io);
  if (sub === "resolve") {
    try {
      await assertKeysFitTrail(store, integrity);
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  // A resolution is a link of this auditor's chain: written with the application's keys.
  const audit = new Auditor({ store, spool: false, actor: "audit-cli", integrity });
  try {
    if (sub === "list") {
      const pending = await audit.approvals.pending();
      if (values.format === "json") io.stdout.write(JSON.stringify(pending, null, 2) + "\n");
      else if (pending.length === 0) io.stdout.write("no pending approvals\n");
      else {
        for (const p of pending) {
          const d = p.request.data;
          io.stdout.write(
            `${escapeCell(`${p.approvalId}  ${p.request.time}  ${d.action}${d.reason ? ` — ${d.reason}` : ""}  (run ${p.request.runId ?? "-"})`)}\n`,
          );
        }
      }
      return 0;
    }
    if (sub === "resolve") {
      const id = positionals[0];
      if (!id) throw new UsageError("audit approvals resolve needs an approval id");
      if (!values.outcome || !values.by)
        throw new UsageError("audit approvals resolve needs --outcome and --by");
      const e = await audit.approvals.resolve(id, {
        outcome: values.outcome,
        resolvedBy: values.by,
        ...(values.comment !== undefined && { comment: values.comment }),
      });
      io.stdout.write(
        escapeCell(`resolved ${id}: ${e.data.outcome} by ${e.data.resolvedBy}`) + "\n",
      );
      return 0;
    }
    throw new UsageError(`unknown approvals command "${sub}"; use list or resolve`);
  } catch (err) {
    if (err instanceof ApprovalConflictError || err instanceof ApprovalNotFoundError) {
      io.stderr.write(`audit: ${err.message.replace(/^\[audit\] /, "")}\n`);
      return 1;
    }
    throw err;
  } finally {
    await audit.close();
    await store.close();
  }
}

function help(command: string, io: CliIo, code = 0): number {
  (code === 0 ? io.stdout : io.stderr).write(HELP[command]! + "\n");
  return code;
}

const COMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  query,
  tail,
  get,
  run: runTree,
  stats,
  verify,
  copy,
  prune,
  approvals,
  doctor,
  serve,
  evidence,
  "verify-bundle": verifyBundle,
};

/**
 * Runs the `audit` command with `argv` (without the node and script paths) and returns the exit
 * code: 0 success, 1 a problem found (verify, a missing event, a lost approval race), 2 a usage or
 * configuration error (bad option, bad URL, backend not installed, store unreachable).
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === "--help" || command === "-h" || command === "help")
    return help("main", io, command ? 0 : 2);
  if (command === "--version" || command === "-v") {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    io.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    io.stderr.write(`audit: unknown command "${command}"; run audit --help for the list\n`);
    return 2;
  }
  try {
    return await run(args, io);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ServeUsageError) {
      io.stderr.write(`audit ${command}: ${err.message} (see audit ${command} --help)\n`);
      return 2;
    }
    if (
      err instanceof AdapterNotInstalledError ||
      err instanceof AuditConfigError ||
      err instanceof AuditValidationError
    ) {
      io.stderr.write(`audit: ${err.message.replace(/^\[audit\] /, "")}\n`);
      return 2;
    }
    if (err instanceof StoreError) {
      io.stderr.write(`audit: ${err.message.replace(/^\[audit\] /, "")}\n`);
      return 2;
    }
    io.stderr.write(`audit: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}
