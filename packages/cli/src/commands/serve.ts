import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import { userInfo } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { AuditConfigError, openStore } from "@audit/core";
import { UsageError } from "../args.js";
import type { Command } from "../command.js";
import { bareMessage } from "../exit-codes.js";
import type { CliIo } from "../io.js";
import { assertKeysFitTrail, KEY_OPTIONS, writerIntegrity } from "../keys.js";
import { STORE_OPTION } from "../store.js";

/** The part of @audit/server the CLI uses, typed here so the CLI does not depend on it. */
interface ServerModule {
  createAuditServer(options: Record<string, unknown>): {
    listen(): Promise<string>;
    close(): Promise<void>;
  };
}

function isMissing(err: unknown, pkg: string): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return (
    (e?.code === "ERR_MODULE_NOT_FOUND" || e?.code === "MODULE_NOT_FOUND") &&
    typeof e.message === "string" &&
    e.message.includes(`'${pkg}'`)
  );
}

/**
 * Imports @audit/server from where the CLI is installed, then from the current project and the
 * main script's folder (a strict pnpm layout hides packages the CLI does not depend on).
 */
async function loadServer(): Promise<ServerModule> {
  const pkg = "@audit/server";
  const found = await loadOptional<ServerModule>(pkg);
  if (found) return found;
  throw new AuditConfigError(
    "[audit] the web viewer needs @audit/server, which is not installed; run `npm install @audit/server` (or pnpm add / yarn add @audit/server)",
  );
}

async function loadOptional<T>(pkg: string): Promise<T | undefined> {
  try {
    return (await import(pkg)) as T;
  } catch (err) {
    if (!isMissing(err, pkg)) throw err;
  }
  const bases = [process.cwd()];
  if (process.argv[1]) bases.push(dirname(process.argv[1]));
  for (const base of bases) {
    let resolved: string;
    try {
      resolved = createRequire(join(base, "noop.js")).resolve(pkg);
    } catch {
      continue;
    }
    return (await import(pathToFileURL(resolved).href)) as T;
  }
  return undefined;
}

interface McpModule {
  createAuditMcpHttpHandler(audit: unknown, options: Record<string, unknown>): unknown;
}

/** @audit/mcp when installed (then /mcp serves the trail's MCP tools), else undefined. */
function loadMcp(): Promise<McpModule | undefined> {
  return loadOptional<McpModule>("@audit/mcp");
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** `audit serve`: a web viewer, an approvals inbox and a JSON API; runs until interrupted. */
export const serve: Command = {
  def: {
    name: "serve",
    summary: "web viewer, approvals inbox and HTTP API (needs @audit/server)",
    usage: [
      "serve [--store URL] [--host 127.0.0.1] [--port 4319] [--token T] [--user NAME]",
      "serve … [--trust-proxy-user HEADER] [--notify-webhook URL] [--notify-secret S]",
    ],
    description:
      "Prints one line with the URL to open (it carries the token, which the page trades for a cookie).\nNeeds the @audit/server package, loaded when the command runs; /mcp is mounted when @audit/mcp\nis installed too.",
    options: [
      {
        name: "host",
        type: "string",
        value: "ADDR",
        description: "the address to bind (default 127.0.0.1); any other address needs a token",
      },
      {
        name: "port",
        type: "string",
        value: "N",
        description: "the port (default 4319; 0 picks a free one)",
      },
      {
        name: "token",
        type: "string",
        value: "T",
        description: "the secret every request needs (default: AUDIT_SERVE_TOKEN, else random)",
      },
      {
        name: "user",
        type: "string",
        value: "NAME",
        description: "who resolves approvals here (default: the operating-system user)",
      },
      {
        name: "mcp-resolve",
        type: "boolean",
        description:
          "let MCP clients at /mcp answer approvals too (as --user); without it\n/mcp (mounted when @audit/mcp is installed) only reads the trail",
      },
      {
        name: "trust-proxy-user",
        type: "string",
        value: "H",
        description: "take the user from header H, set by an authenticating proxy in front",
      },
      {
        name: "notify-webhook",
        type: "string",
        value: "URL",
        description: "POST each approval request and resolution, signed (HMAC-SHA-256)",
      },
      {
        name: "notify-secret",
        type: "string",
        value: "S",
        description: "the webhook signing key (default: AUDIT_NOTIFY_SECRET)",
      },
      {
        name: "key",
        type: "string",
        value: "KEY",
        description: "the chains' HMAC key, for resolutions and verify (default: AUDIT_KEY)",
      },
      ...KEY_OPTIONS,
      STORE_OPTION,
    ],
    examples: [
      "audit serve --store sqlite:./audit.db",
      "AUDIT_SERVE_TOKEN=$(openssl rand -hex 32) audit serve --host 0.0.0.0 --user alice",
      "audit serve --notify-webhook https://chat.example/hooks/audit",
    ],
  },
  run: ({ values }, io) => runServe(values as Record<string, string | boolean | undefined>, io),
};

async function runServe(
  values: Record<string, string | boolean | undefined>,
  io: CliIo,
): Promise<number> {
  const port = Number(values.port ?? 4319);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be a whole number from 0 to 65535, not "${values.port}"`);
  const url = (values.store as string | undefined) ?? io.env.AUDIT_STORE;
  if (!url)
    throw new UsageError("no store: pass --store URL or set AUDIT_STORE (e.g. sqlite:./audit.db)");
  const webhook = values["notify-webhook"] as string | undefined;
  const secret = (values["notify-secret"] as string | undefined) ?? io.env.AUDIT_NOTIFY_SECRET;
  if (webhook && !secret)
    throw new UsageError(
      "--notify-webhook needs a signing secret: set AUDIT_NOTIFY_SECRET or pass --notify-secret",
    );
  const mod = await loadServer();
  const store = await openStore(url);
  const token = (values.token as string | undefined) ?? (io.env.AUDIT_SERVE_TOKEN || undefined);
  const integrity = writerIntegrity(
    values as { "key-file"?: string; "signing-key-file"?: string },
    io.env,
  );
  const key = (values.key as string | undefined) ?? integrity.key;
  if (key !== undefined) integrity.key = key;
  await assertKeysFitTrail(store, integrity).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const mcp = await loadMcp();
  const user = (values.user as string | undefined) ?? osUser();
  const trustedHeader = values["trust-proxy-user"] as string | undefined;
  let server: ReturnType<ServerModule["createAuditServer"]>;
  try {
    server = mod.createAuditServer({
      store,
      port,
      ...(values.host !== undefined && { host: values.host }),
      ...(token !== undefined && { token }),
      user,
      ...(values["trust-proxy-user"] !== undefined && {
        trustProxyUser: values["trust-proxy-user"],
      }),
      integrity,
      ...(mcp && {
        mcp: {
          fromAuditor: (audit: unknown) =>
            mcp.createAuditMcpHttpHandler(audit, {
              // Answering approvals over MCP is a separate permission, off unless asked for.
              allowResolve: values["mcp-resolve"] === true,
              resolvedBy: trustedHeader
                ? (req: IncomingMessage) => headerValue(req, trustedHeader)
                : user,
            }),
        },
      }),
      ...(webhook && { notify: { url: webhook, secret } }),
      onError: (err: Error) => io.stderr.write(`audit serve: ${bareMessage(err)}\n`),
    });
    io.stdout.write(`audit serve: open ${await server.listen()}\n`);
  } catch (err) {
    await store.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE")
      throw new UsageError(`port ${port} is in use; pick another with --port (0 for any free one)`);
    if (e.code === "EADDRNOTAVAIL")
      throw new UsageError(`cannot bind ${values.host}: no such address on this machine`);
    throw err;
  }
  const interrupted =
    io.interrupted ??
    new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
  await interrupted;
  await server.close();
  await store.close();
  return 0;
}
