import { performance } from "node:perf_hooks";
import type { Auditor, AuditRun, EventInput } from "@audit/core";
import { newSpanId, uuidv7 } from "@audit/core";
import type {
  Transport,
  TransportSendOptions,
} from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage, MessageExtraInfo } from "@modelcontextprotocol/sdk/types.js";
import {
  contentText,
  type Implementation,
  implementationOf,
  isRequest,
  isResponse,
  type LooseMessage,
  loose,
} from "./json-rpc.js";
import {
  decide,
  defaultIsApproved,
  type McpPolicyVerdict,
  type McpToolCall,
  type McpToolPolicy,
} from "./tool-gate.js";

/** Options of {@link auditTransport}. */
export interface AuditTransportOptions {
  /**
   * Which end of the connection this transport is: `"client"` (an agent calling MCP tools) or
   * `"server"` (an MCP server whose tools are called).
   */
  side: "client" | "server";
  /**
   * The run the tool calls belong to (an agent's run, or a function returning the current one).
   * Without it each connection is recorded as a run of its own, from its first tool call to close.
   * @default one run per connection
   */
  run?: AuditRun | (() => AuditRun | undefined);
  /** The session of the events. @default the run's, else the transport's `sessionId`, else one id per connection */
  sessionId?: string;
  /** Who acts. @default the MCP client's name from `initialize` */
  actor?: string;
  /** Decides about each tool call before it goes on; see {@link McpToolPolicy}. @default none: every call goes on */
  policy?: McpToolPolicy;
  /** Told about errors of the audit side; they never reach the MCP connection. @default none */
  onError?: (error: unknown) => void;
}

interface PendingCall {
  tool: string;
  callId: string;
  spanId: string;
  envelope: RunEnvelope;
  startedAt: number;
  /** Aborts a wait for a human when the caller cancels the call. */
  abort?: AbortController;
}

interface RunEnvelope {
  runId?: string;
  parentSpanId?: string;
  sessionId?: string;
  actor?: string;
}

interface ToolCallState {
  call: PendingCall;
  toolCall: McpToolCall;
}

type MessageHandler = (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

/**
 * Wraps an MCP `Transport` so that every `tools/call` passing through it is recorded: `tool.start`
 * with the arguments, then `tool.end` with the result, or `tool.error` when the tool failed
 * (`isError`), the request failed, was cancelled, refused by the policy, or the connection closed
 * first. Each event names the server (name and version from `initialize`) and the session.
 * Give the wrapper to `client.connect()` or `server.connect()` in place of the transport.
 */
export function auditTransport(
  transport: Transport,
  audit: Auditor,
  options: AuditTransportOptions,
): Transport {
  return new AuditedTransport(transport, audit, options);
}

/** The transport returned by {@link auditTransport}. */
export class AuditedTransport implements Transport {
  readonly #inner: Transport;
  readonly #audit: Auditor;
  readonly #options: AuditTransportOptions;
  readonly #pending = new Map<string, PendingCall>();
  /** Methods of the requests travelling towards the server, by id, for the ones this reads back. */
  readonly #requestMethods = new Map<string, string>();
  readonly #fallbackSession = uuidv7();
  #onmessage: MessageHandler | undefined;
  #onclose: (() => void) | undefined;
  #server: Implementation | undefined;
  #client: Implementation | undefined;
  #connectionRun: { runId: string; spanId: string; startedAt: number } | undefined;

  constructor(inner: Transport, audit: Auditor, options: AuditTransportOptions) {
    this.#inner = inner;
    this.#audit = audit;
    this.#options = options;
    inner.onmessage = (message, extra) => this.#received(message, extra);
    inner.onclose = () => {
      this.#closed();
      this.#onclose?.();
    };
  }

  /** The MCP server's name and version, once `initialize` was seen. */
  get server(): Implementation | undefined {
    return this.#server;
  }

  /** @inheritdoc */
  get sessionId(): string | undefined {
    return this.#inner.sessionId;
  }

  /** @inheritdoc */
  get setProtocolVersion(): ((version: string) => void) | undefined {
    const inner = this.#inner;
    return inner.setProtocolVersion ? (v) => inner.setProtocolVersion?.(v) : undefined;
  }

  /** @inheritdoc */
  get onmessage(): MessageHandler | undefined {
    return this.#onmessage;
  }
  set onmessage(handler: MessageHandler | undefined) {
    this.#onmessage = handler;
  }

  /** @inheritdoc */
  get onclose(): (() => void) | undefined {
    return this.#onclose;
  }
  set onclose(handler: (() => void) | undefined) {
    this.#onclose = handler;
  }

  /** @inheritdoc */
  get onerror(): ((error: Error) => void) | undefined {
    return this.#inner.onerror;
  }
  set onerror(handler: ((error: Error) => void) | undefined) {
    this.#inner.onerror = handler;
  }

  /** @inheritdoc */
  start(): Promise<void> {
    return this.#inner.start();
  }

  /** @inheritdoc */
  close(): Promise<void> {
    return this.#inner.close();
  }

  /** @inheritdoc */
  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const m = loose(message);
    if (this.#options.side === "client") {
      if (isRequest(m)) {
        if (m.method === "tools/call") {
          const call = this.#startCall(m);
          if (call && this.#options.policy) {
            const go = await this.#gate(this.#options.policy, m.id, call, (refusal) =>
              queueMicrotask(() => this.#onmessage?.(refusal)),
            );
            if (!go) return;
          }
        } else {
          this.#towardsServer(m);
        }
      } else {
        this.#notification(m);
      }
    } else if (isResponse(m)) {
      this.#fromServer(m);
    }
    return this.#inner.send(message, options);
  }

  #received(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    const m = loose(message);
    if (this.#options.side === "server") {
      if (isRequest(m) && m.method === "tools/call") {
        const call = this.#startCall(m);
        const policy = this.#options.policy;
        if (call && policy) {
          // The tool's handler only sees the call once the policy (or a human) let it through.
          void this.#gate(policy, m.id, call, (refusal) => {
            this.#inner
              .send(refusal, { relatedRequestId: m.id })
              .catch((err: unknown) => this.#options.onError?.(err));
          }).then((go) => {
            if (go) this.#onmessage?.(message, extra);
          });
          return;
        }
      } else if (isRequest(m)) this.#towardsServer(m);
      else this.#notification(m);
    } else if (isResponse(m)) {
      this.#fromServer(m);
    }
    this.#onmessage?.(message, extra);
  }

  /** A request on its way to the server (other than tools/call). */
  #towardsServer(m: LooseMessage & { id: string | number; method: string }): void {
    if (m.method === "initialize") {
      this.#client = implementationOf(m.params?.clientInfo) ?? this.#client;
      this.#requestMethods.set(String(m.id), m.method);
    }
  }

  /** A response on its way back to the client. */
  #fromServer(m: LooseMessage & { id: string | number }): void {
    const key = String(m.id);
    if (this.#requestMethods.get(key) === "initialize") {
      this.#requestMethods.delete(key);
      this.#server = implementationOf(m.result?.serverInfo) ?? this.#server;
      return;
    }
    const call = this.#pending.get(key);
    if (!call) return;
    this.#pending.delete(key);
    if (m.error) {
      this.#end(call, "tool.error", {
        error: m.error.message ?? "JSON-RPC error",
        errorType: "McpError",
        ...(m.error.code !== undefined && { code: m.error.code }),
      });
    } else if (m.result?.isError === true) {
      this.#end(call, "tool.error", { error: contentText(m.result), errorType: "McpToolError" });
    } else {
      const result = m.result?.structuredContent ?? m.result?.content;
      this.#end(call, "tool.end", result === undefined ? {} : { result });
    }
  }

  #notification(m: LooseMessage): void {
    if (m.method !== "notifications/cancelled") return;
    const key = String(m.params?.requestId);
    const call = this.#pending.get(key);
    if (!call) return;
    this.#pending.delete(key);
    call.abort?.abort();
    const reason = m.params?.reason;
    this.#end(call, "tool.error", {
      error: typeof reason === "string" ? reason : "cancelled by the client",
      errorType: "McpCancelled",
    });
  }

  /** Records the start of a tools/call; undefined when recording failed (the call goes on). */
  #startCall(m: LooseMessage & { id: string | number }): ToolCallState | undefined {
    try {
      const toolCall: McpToolCall = {
        tool: String(m.params?.name ?? ""),
        args: m.params?.arguments,
        callId: String(m.id),
        ...(this.#server && { server: this.#server }),
        ...(this.#client && { client: this.#client }),
      };
      const call: PendingCall = {
        tool: toolCall.tool,
        callId: toolCall.callId,
        spanId: newSpanId(),
        envelope: this.#envelope(),
        startedAt: performance.now(),
      };
      this.#pending.set(call.callId, call);
      this.#record({
        type: "tool.start",
        ...this.#on(call),
        data: {
          tool: call.tool,
          callId: call.callId,
          ...(toolCall.args !== undefined && { args: toolCall.args }),
          ...(this.#server && { server: this.#server }),
        },
      });
      return { call, toolCall };
    } catch (err) {
      this.#options.onError?.(err);
      return undefined;
    }
  }

  /**
   * Runs the policy on a call. Resolves true when the call should go on; otherwise the refusal has
   * been recorded and handed to `refuse` as the call's response.
   */
  async #gate(
    policy: McpToolPolicy,
    id: string | number,
    { call, toolCall }: ToolCallState,
    refuse: (response: JSONRPCMessage) => void,
  ): Promise<boolean> {
    const verdict = await this.#judge(policy, toolCall, call);
    if (verdict.decision === "allow") return true;
    if (this.#pending.get(call.callId) !== call) return false; // cancelled while waiting
    this.#pending.delete(call.callId);
    const text = `Refused by policy ${policy.name}${verdict.reason ? `: ${verdict.reason}` : ""}`;
    this.#end(call, "tool.error", { error: text, errorType: "ToolCallRefused" });
    refuse({
      jsonrpc: "2.0",
      id,
      result: { content: [{ type: "text", text }], isError: true },
    } as JSONRPCMessage);
    return false;
  }

  /** The policy's verdict, after a human's decision when it asked for a review. */
  async #judge(
    policy: McpToolPolicy,
    toolCall: McpToolCall,
    call: PendingCall,
  ): Promise<McpPolicyVerdict> {
    const verdict = await decide(policy, toolCall);
    this.#record({
      type: "policy.decision",
      ...this.#under(call),
      risk: verdict.decision === "deny" ? "high" : verdict.decision === "review" ? "medium" : "low",
      data: {
        policy: policy.name,
        decision: verdict.decision,
        ...(verdict.rule !== undefined && { rule: verdict.rule }),
        ...(verdict.reason !== undefined && { reason: verdict.reason }),
        tool: toolCall.tool,
      },
    });
    if (verdict.decision !== "review") return verdict;
    const approvalId = uuidv7();
    this.#record({
      type: "approval.request",
      ...this.#under(call),
      risk: "high",
      data: {
        approvalId,
        action: toolCall.tool,
        ...(verdict.reason !== undefined && { reason: verdict.reason }),
        options: {
          tool: toolCall.tool,
          callId: toolCall.callId,
          args: toolCall.args,
          ...(toolCall.server && { server: toolCall.server }),
        },
      },
    });
    call.abort = new AbortController();
    try {
      const resolution = await this.#audit.approvals.wait(approvalId, {
        signal: call.abort.signal,
        ...(policy.approvalTimeoutMs !== undefined && { timeoutMs: policy.approvalTimeoutMs }),
      });
      const { outcome, resolvedBy, comment } = resolution.data;
      const approved = (policy.isApproved ?? defaultIsApproved)(outcome);
      return approved
        ? { decision: "allow" }
        : { decision: "deny", reason: `denied by ${resolvedBy}${comment ? `: ${comment}` : ""}` };
    } catch (err) {
      return {
        decision: "deny",
        reason: `no decision: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }

  #end(call: PendingCall, type: "tool.end" | "tool.error", data: Record<string, unknown>): void {
    const durationMs = Math.round((performance.now() - call.startedAt) * 1000) / 1000;
    this.#record({
      type,
      ...this.#on(call),
      ...(type === "tool.error" && { risk: "medium" as const }),
      data: { tool: call.tool, callId: call.callId, ...data, durationMs },
    });
  }

  #closed(): void {
    for (const call of this.#pending.values()) {
      call.abort?.abort();
      this.#end(call, "tool.error", {
        error: "the connection closed before the tool answered",
        errorType: "McpConnectionClosed",
      });
    }
    this.#pending.clear();
    const run = this.#connectionRun;
    if (run) {
      this.#connectionRun = undefined;
      this.#record({
        type: "run.end",
        ...this.#sessionFields(),
        runId: run.runId,
        spanId: run.spanId,
        data: {
          status: "ok",
          durationMs: Math.round((performance.now() - run.startedAt) * 1000) / 1000,
        },
      });
    }
  }

  #sessionFields(): { sessionId: string; actor?: string } {
    const actor = this.#options.actor ?? this.#client?.name;
    return {
      sessionId: this.#options.sessionId ?? this.#inner.sessionId ?? this.#fallbackSession,
      ...(actor !== undefined && { actor }),
    };
  }

  /** Where a tool call's events go: the caller's run, or this connection's own run. */
  #envelope(): RunEnvelope {
    const given = this.#options.run;
    const run = typeof given === "function" ? given() : given;
    if (run) {
      const actor = this.#options.actor ?? run.agent ?? this.#client?.name;
      return {
        runId: run.runId,
        parentSpanId: run.spanId,
        ...((this.#options.sessionId ?? run.sessionId) !== undefined && {
          sessionId: this.#options.sessionId ?? run.sessionId,
        }),
        ...(actor !== undefined && { actor }),
      };
    }
    if (!this.#connectionRun) {
      const runId = uuidv7();
      const spanId = newSpanId();
      this.#connectionRun = { runId, spanId, startedAt: performance.now() };
      const agent = this.#options.side === "server" ? this.#server?.name : this.#client?.name;
      this.#record({
        type: "run.start",
        ...this.#sessionFields(),
        runId,
        spanId,
        data: {
          ...(agent !== undefined && { agent }),
          input: {
            side: this.#options.side,
            ...(this.#server && { server: this.#server }),
            ...(this.#client && { client: this.#client }),
          },
        },
      });
    }
    return {
      runId: this.#connectionRun.runId,
      parentSpanId: this.#connectionRun.spanId,
      ...this.#sessionFields(),
    };
  }

  /** The envelope of a tool call's own events. */
  #on(call: PendingCall): Partial<EventInput> {
    return { ...call.envelope, spanId: call.spanId };
  }

  /** The envelope of events inside a tool call (policy, approval). */
  #under(call: PendingCall): Partial<EventInput> {
    return { ...call.envelope, parentSpanId: call.spanId };
  }

  #record(input: EventInput): void {
    try {
      this.#audit.record(input);
    } catch (err) {
      // Recording is best effort on this path: the MCP connection must not fail because of it.
      this.#options.onError?.(err);
    }
  }
}
