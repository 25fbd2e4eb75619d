import { type AuditEvent, RISK_LEVELS } from "../event.js";

/**
 * The values a store copies out of an event into indexed columns, named as in
 * {@link IndexedColumn}; absent ones are `null`. `approvalId` is `data.approvalId` when it is a
 * string; `riskLevel` is the risk's index in `RISK_LEVELS` (0 = low), so `>=` finds "this level
 * and above".
 */
export interface EventColumns {
  id: string;
  time: string;
  type: string;
  actor: string | null;
  sessionId: string | null;
  runId: string | null;
  approvalId: string | null;
  riskLevel: number | null;
  chainId: string | null;
  chainSeq: number | null;
}

/** The column values of one event (see {@link EventColumns}). */
export function eventColumns(e: AuditEvent): EventColumns {
  return {
    id: e.id,
    time: e.time,
    type: e.type,
    actor: e.actor ?? null,
    sessionId: e.sessionId ?? null,
    runId: e.runId ?? null,
    approvalId: typeof e.data.approvalId === "string" ? e.data.approvalId : null,
    riskLevel: e.risk === undefined ? null : RISK_LEVELS.indexOf(e.risk),
    chainId: e.chain?.id ?? null,
    chainSeq: e.chain?.seq ?? null,
  };
}

/**
 * The columns of many events as one array per column, in `order`: what a multi-row insert binds
 * (`unnest($1::text[], …)` in PostgreSQL).
 */
export function columnArrays(
  events: readonly AuditEvent[],
  order: readonly (keyof EventColumns)[],
): unknown[][] {
  const out: unknown[][] = order.map(() => []);
  for (const e of events) {
    const c = eventColumns(e);
    for (let i = 0; i < order.length; i++) out[i]!.push(c[order[i]!]);
  }
  return out;
}
