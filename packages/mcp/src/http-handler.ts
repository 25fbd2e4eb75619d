import type { IncomingMessage, ServerResponse } from "node:http";
import { AuditConfigError, type Auditor } from "@audit/core";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { type AuditMcpServerOptions, createAuditMcpServer } from "./audit-mcp-server.js";

/** Options of {@link createAuditMcpHttpHandler}. */
export interface AuditMcpHttpOptions extends Omit<AuditMcpServerOptions, "resolvedBy"> {
  /**
   * Who resolutions are recorded as made by: a fixed name, or read from the request (for instance a
   * header set by a trusted proxy after the caller was authenticated). When the function returns
   * undefined, that request gets a server without `approval_resolve`.
   */
  resolvedBy?: string | ((request: IncomingMessage) => string | undefined);
}

/**
 * Serves one HTTP request of the MCP Streamable HTTP transport. Mount it on a path of any
 * `node:http` server (authentication, the token check and Origin rules are the host's job):
 * `if (url.pathname === "/mcp") return handler(req, res)`. Pass `parsedBody` when a body parser
 * already read the request.
 */
export type AuditMcpHttpHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  parsedBody?: unknown,
) => Promise<void>;

function jsonRpcError(response: ServerResponse, status: number, message: string): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }));
}

/**
 * The audit MCP server ({@link createAuditMcpServer}) over Streamable HTTP, stateless: each POST
 * gets its own server and transport, answered as JSON, so no session state lives in the process
 * and any number of operators can call it at once. GET and DELETE (server-sent streams and
 * session ends, which a stateless server has none of) are answered 405.
 * @throws {AuditConfigError} when `allowResolve` is set without `resolvedBy`.
 */
export function createAuditMcpHttpHandler(
  audit: Auditor,
  options: AuditMcpHttpOptions = {},
): AuditMcpHttpHandler {
  const { resolvedBy, ...rest } = options;
  if (rest.allowResolve && (resolvedBy === undefined || resolvedBy === "")) {
    throw new AuditConfigError(
      '[audit] [mcp] allowResolve needs resolvedBy: a name or a function reading it from the request, e.g. { allowResolve: true, resolvedBy: "alice" }',
    );
  }
  return async (request, response, parsedBody) => {
    if (request.method !== "POST") {
      response.setHeader("allow", "POST");
      jsonRpcError(response, 405, "this MCP endpoint is stateless: send JSON-RPC with POST");
      return;
    }
    const who = typeof resolvedBy === "function" ? resolvedBy(request) : resolvedBy;
    const allowResolve = rest.allowResolve === true && who !== undefined && who.trim() !== "";
    const server = createAuditMcpServer(audit, {
      ...rest,
      allowResolve,
      ...(allowResolve && { resolvedBy: who }),
    });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    response.on("close", () => {
      void transport.close();
      void server.close();
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(request, response, parsedBody);
    } catch (err) {
      jsonRpcError(
        response,
        500,
        `audit MCP request failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };
}
