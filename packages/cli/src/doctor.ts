import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { describeError, openStore, Spool } from "@audit/core";

/** Output and environment of a command (the subset of the CLI's io that doctor uses). */
interface DoctorIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
}

/** The help text of `audit doctor`. */
export const DOCTOR_HELP = `audit doctor — is the trail healthy? The store, the spool and the quarantine

Usage: audit doctor [--store URL] [--spool DIR] [-o table|json]

  --store URL     the store (default: AUDIT_STORE)
  --spool DIR     the auditor's spool directory (default: ./.audit-spool)
  --timeout MS    how long the store may take to answer (default: 5000)
  -o, --format F  table | json

Exit codes: 0 healthy, 1 something needs attention (store down, events waiting in the spool,
events in quarantine), 2 usage error, 3 store unreachable.

Examples:
  audit doctor --store sqlite:./audit.db
  AUDIT_STORE=postgres://localhost/app audit doctor --spool /var/lib/app/audit-spool -o json`;

/** `audit doctor`: probes the store and reads the spool directory. */
export async function doctor(args: string[], io: DoctorIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      store: { type: "string" },
      spool: { type: "string" },
      timeout: { type: "string" },
      format: { type: "string", short: "o" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    io.stdout.write(`${DOCTOR_HELP}\n`);
    return 0;
  }
  const url = values.store ?? io.env.AUDIT_STORE;
  if (!url) {
    io.stderr.write("audit doctor: no store: pass --store URL or set AUDIT_STORE\n");
    return 2;
  }
  const timeoutMs = values.timeout === undefined ? 5000 : Number(values.timeout);
  const spool = new Spool(resolve(values.spool ?? "./.audit-spool"));
  const report: {
    store: { state: "up" | "down"; answeredInMs?: number; events?: number; error?: string };
    spool: ReturnType<Spool["inspect"]> & { dir: string };
  } = { store: { state: "down" }, spool: { dir: spool.dir, ...spool.inspect() } };
  const started = Date.now();
  try {
    const store = await openStore(url);
    try {
      const events = await Promise.race([
        store.count(),
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error(`no answer within ${timeoutMs} ms`)),
            timeoutMs,
          ).unref(),
        ),
      ]);
      report.store = { state: "up", answeredInMs: Date.now() - started, events };
    } finally {
      await store.close().catch(() => undefined);
    }
  } catch (err) {
    report.store = { state: "down", error: describeError(err).replace(/^\[audit\] /, "") };
  }
  if (values.format === "json") io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const s = report.store;
    io.stdout.write(
      `store       ${s.state}${s.state === "up" ? ` (${s.events} events, answered in ${s.answeredInMs} ms)` : `: ${s.error}`}\n`,
    );
    const p = report.spool;
    io.stdout.write(
      `spool       ${p.events} events waiting in ${p.files} files (${p.bytes} bytes) at ${p.dir}\n`,
    );
    io.stdout.write(`quarantine  ${p.quarantined} events the store refused\n`);
  }
  if (report.store.state === "down") return 3;
  return report.spool.events > 0 || report.spool.quarantined > 0 ? 1 : 0;
}
