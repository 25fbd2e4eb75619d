import {
  ApprovalConflictError,
  ApprovalNotFoundError,
  AuditConfigError,
  type AuditEvent,
  type AuditFilter,
  type Auditor,
  RISK_LEVELS,
} from "@audit/core";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

/** Options of {@link createAuditMcpServer}. */
export interface AuditMcpServerOptions {
  /**
   * Offer the `approval_resolve` tool. Off by default: answering an approval is a decision a
   * person is accountable for, so a deployment must say who may make it.
   * @default false
   */
  allowResolve?: boolean;
  /**
   * Who the resolutions are recorded as made by; required with `allowResolve`. It comes from the
   * server's configuration (a string, or read per session by the HTTP helper), never from the tool
   * call, so a client cannot answer in someone else's name.
   */
  resolvedBy?: string;
  /** The server's name in `initialize`. @default "audit" */
  name?: string;
  /** The server's version in `initialize`. @default "0.1.0" */
  version?: string;
  /** The most events one query returns. @default 500 */
  maxLimit?: number;
}

function json(value: unknown): CallToolResult {
  return {
    content: [{ type: "text", text: JSON.stringify(value, null, 2) }],
    structuredContent: value as Record<string, unknown>,
  };
}

function failure(message: string): CallToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}

/** One line per event, as an operator reads it. */
function summary(e: AuditEvent): Record<string, unknown> {
  return {
    id: e.id,
    time: e.time,
    type: e.type,
    ...(e.actor !== undefined && { actor: e.actor }),
    ...(e.runId !== undefined && { runId: e.runId }),
    ...(e.sessionId !== undefined && { sessionId: e.sessionId }),
    ...(e.spanId !== undefined && { spanId: e.spanId }),
    ...(e.parentSpanId !== undefined && { parentSpanId: e.parentSpanId }),
    ...(e.risk !== undefined && { risk: e.risk }),
    data: e.data,
  };
}

/**
 * An MCP server over the audit trail, for an operator's MCP client: `audit_query` (filtered
 * events), `audit_run` (one run's events), `approvals_pending` and, only with
 * `{ allowResolve: true, resolvedBy }`, `approval_resolve` (first resolution wins). Connect it to
 * `StdioServerTransport` for a local client, or serve it over Streamable HTTP with
 * {@link createAuditMcpHttpHandler}.
 * @throws {AuditConfigError} when `allowResolve` is set without `resolvedBy`.
 */
export function createAuditMcpServer(
  audit: Auditor,
  options: AuditMcpServerOptions = {},
): McpServer {
  const allowResolve = options.allowResolve === true;
  const resolvedBy = options.resolvedBy?.trim();
  if (allowResolve && !resolvedBy) {
    throw new AuditConfigError(
      '[audit] [mcp] allowResolve needs resolvedBy: the name resolutions are recorded under, e.g. { allowResolve: true, resolvedBy: "alice" }',
    );
  }
  const maxLimit = options.maxLimit ?? 500;
  const server = new McpServer(
    { name: options.name ?? "audit", version: options.version ?? "0.1.0" },
    {
      instructions: allowResolve
        ? `Query the audit trail and answer pending approvals as ${resolvedBy}.`
        : "Query the audit trail and list pending approvals. Resolving approvals is not enabled on this server.",
    },
  );

  server.registerTool(
    "audit_query",
    {
      title: "Query the audit trail",
      description:
        'Events matching the filters, newest first unless order is "asc". type takes an exact type or a prefix pattern like "tool.*".',
      inputSchema: {
        type: z.string().optional(),
        runId: z.string().optional(),
        sessionId: z.string().optional(),
        actor: z.string().optional(),
        approvalId: z.string().optional(),
        risk: z.enum(RISK_LEVELS as [string, ...string[]]).optional(),
        since: z.string().optional().describe("ISO time"),
        until: z.string().optional().describe("ISO time"),
        order: z.enum(["asc", "desc"]).optional(),
        limit: z.number().int().min(1).optional(),
        after: z.string().optional().describe("an event id: continue after it"),
      },
      annotations: { readOnlyHint: true },
    },
    async (args) => {
      const filter: AuditFilter = { order: args.order ?? "desc" };
      for (const key of [
        "type",
        "runId",
        "sessionId",
        "actor",
        "approvalId",
        "since",
        "until",
        "after",
      ] as const) {
        if (args[key] !== undefined) (filter as Record<string, unknown>)[key] = args[key];
      }
      if (args.risk !== undefined) filter.risk = args.risk as AuditFilter["risk"];
      filter.limit = Math.min(args.limit ?? 50, maxLimit);
      try {
        const events = await audit.store.query(filter);
        return json({ count: events.length, events: events.map(summary) });
      } catch (err) {
        return failure(`query failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  );

  server.registerTool(
    "audit_run",
    {
      title: "One run's events",
      description: "Every event of a run, oldest first, with its span ids to rebuild the tree.",
      inputSchema: { runId: z.string().min(1) },
      annotations: { readOnlyHint: true },
    },
    async ({ runId }) => {
      const events: AuditEvent[] = [];
      for await (const e of audit.store.stream({ runId, order: "asc" })) {
        events.push(e);
        if (events.length >= maxLimit * 20) break;
      }
      if (events.length === 0) return failure(`no events for run ${runId}`);
      return json({ runId, count: events.length, events: events.map(summary) });
    },
  );

  server.registerTool(
    "approvals_pending",
    {
      title: "Pending approvals",
      description: "Approval requests nobody has answered yet, oldest first.",
      annotations: { readOnlyHint: true },
    },
    async () => {
      const pending = await audit.approvals.pending();
      return json({
        count: pending.length,
        approvals: pending.map((p) => ({
          approvalId: p.approvalId,
          requestedAt: p.request.time,
          ...(p.request.runId !== undefined && { runId: p.request.runId }),
          ...(p.request.actor !== undefined && { actor: p.request.actor }),
          action: p.request.data.action,
          ...(p.request.data.reason !== undefined && { reason: p.request.data.reason }),
          ...(p.request.data.options !== undefined && { options: p.request.data.options }),
        })),
      });
    },
  );

  if (allowResolve) {
    server.registerTool(
      "approval_resolve",
      {
        title: "Answer an approval",
        description: `Approves or denies a pending request, recorded as decided by ${resolvedBy}. The first answer wins.`,
        inputSchema: {
          approvalId: z.string().min(1),
          outcome: z.enum(["approve", "deny"]),
          comment: z.string().max(2000).optional(),
        },
        annotations: { destructiveHint: false, idempotentHint: false },
      },
      async ({ approvalId, outcome, comment }) => {
        try {
          const resolution = await audit.approvals.resolve(approvalId, {
            outcome,
            resolvedBy: resolvedBy!,
            ...(comment !== undefined && { comment }),
          });
          return json({ resolved: true, resolution: summary(resolution) });
        } catch (err) {
          if (err instanceof ApprovalConflictError || err instanceof ApprovalNotFoundError) {
            return failure(err.message);
          }
          return failure(`resolve failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      },
    );
  }
  return server;
}
