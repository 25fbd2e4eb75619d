import { resolve } from "node:path";
import { describeError, openStore, Spool, type StoreDescription } from "@audit/core";
import { UsageError } from "../args.js";
import type { Command } from "../command.js";
import { bareMessage } from "../exit-codes.js";
import { formatOf, formatOption } from "../output.js";
import { STORE_OPTION } from "../store.js";

/** `audit doctor`: probes the store and reads the spool directory. */
export const doctor: Command = {
  def: {
    name: "doctor",
    summary: "is the trail healthy? the store, the spool and the quarantine",
    usage: ["doctor [--store URL] [--spool DIR] [-o table|json]"],
    options: [
      {
        name: "spool",
        type: "string",
        value: "DIR",
        description: "the auditor's spool directory (default: ./.audit-spool)",
      },
      {
        name: "timeout",
        type: "string",
        value: "MS",
        description: "how long the store may take to answer (default: 5000)",
      },
      formatOption(["table", "json"], "table"),
      STORE_OPTION,
    ],
    notes:
      "Exit codes: 0 healthy, 1 something needs attention (events waiting in the spool, events in\nquarantine), 2 usage error, 3 store unreachable.",
    examples: [
      "audit doctor --store sqlite:./audit.db",
      "AUDIT_STORE=postgres://localhost/app audit doctor --spool /var/lib/app/audit-spool -o json",
    ],
  },
  async run({ values }, io) {
    const format = formatOf(values, io, ["table", "json"], "table");
    const url = (values.store as string | undefined) ?? io.env.AUDIT_STORE;
    if (!url) throw new UsageError("no store: pass --store URL or set AUDIT_STORE");
    const timeoutMs = values.timeout === undefined ? 5000 : Number(values.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
      throw new UsageError(
        `--timeout must be a whole number of milliseconds, not "${values.timeout}"`,
      );
    const spool = new Spool(resolve((values.spool as string | undefined) ?? "./.audit-spool"));
    const report: {
      store: {
        state: "up" | "down";
        answeredInMs?: number;
        events?: number;
        error?: string;
        description?: StoreDescription;
      };
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
        // What the store says it is (no secret in it), when it can say.
        const description = store.describe?.();
        if (description) report.store.description = description;
      } finally {
        await store.close().catch(() => undefined);
      }
    } catch (err) {
      report.store = { state: "down", error: bareMessage(new Error(describeError(err))) };
    }
    if (format === "json") io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      const s = report.store;
      io.stdout.write(
        `store       ${s.state}${s.state === "up" ? ` (${s.events} events, answered in ${s.answeredInMs} ms)` : `: ${s.error}`}\n`,
      );
      if (s.description) {
        const d = s.description;
        const can = Object.entries(d.capabilities)
          .filter(([, v]) => v)
          .map(([k]) => k);
        io.stdout.write(
          `            ${d.id} at ${d.location}${d.readOnly ? " (read-only)" : ""}; ${can.length > 0 ? can.join(", ") : "no optional capabilities"}\n`,
        );
      }
      const p = report.spool;
      io.stdout.write(
        `spool       ${p.events} events waiting in ${p.files} files (${p.bytes} bytes) at ${p.dir}\n`,
      );
      io.stdout.write(`quarantine  ${p.quarantined} events the store refused\n`);
    }
    if (report.store.state === "down") return 3;
    return report.spool.events > 0 || report.spool.quarantined > 0 ? 1 : 0;
  },
};
