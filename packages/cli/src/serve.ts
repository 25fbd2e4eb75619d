import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import { userInfo } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { AuditConfigError, openStore } from "@audit/core";
import type { CliIo } from "./cli.js";
import { assertKeysFitTrail, KEY_HELP, KEY_OPTIONS, writerIntegrity } from "./keys.js";

/** `audit serve --help`. */
export const SERVE_HELP = `audit serve — a web viewer, an approvals inbox and a JSON API over a trail

Usage: audit serve [--store URL] [--host 127.0.0.1] [--port 4319] [--token T] [--user NAME]
                   [--trust-proxy-user HEADER] [--notify-webhook URL] [--notify-secret S]

  --store URL             the trail (default: AUDIT_STORE)
  --host ADDR             the address to bind (default 127.0.0.1); any other address needs a token
  --port N                the port (default 4319; 0 picks a free one)
  --token T               the secret every request needs (default: AUDIT_SERVE_TOKEN, else random)
  --user NAME             who resolves approvals here (default: the operating-system user)
  --mcp-resolve           let MCP clients at /mcp answer approvals too (as --user); without it
                          /mcp (mounted when @audit/mcp is installed) only reads the trail
  --trust-proxy-user H    take the user from header H, set by an authenticating proxy in front
  --notify-webhook URL    POST each approval request and resolution, signed (HMAC-SHA-256)
  --notify-secret S       the webhook signing key (default: AUDIT_NOTIFY_SECRET)
  --key KEY               the chains' HMAC key, for resolutions and verify (default: AUDIT_KEY)

${KEY_HELP}

Prints one line with the URL to open (it carries the token, which the page trades for a cookie).
Needs the @audit/server package.

Examples:
  audit serve --store sqlite:./audit.db
  AUDIT_SERVE_TOKEN=$(openssl rand -hex 32) audit serve --host 0.0.0.0 --user alice
  audit serve --notify-webhook https://chat.example/hooks/audit`;

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
    "[audit] audit serve needs @audit/server, which is not installed; run `npm install @audit/server` (or pnpm add / yarn add @audit/server)",
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

/** A mistake in how `serve` was called; the CLI prints it with the usage hint. */
export class ServeUsageError extends Error {}

/** `audit serve`: runs until interrupted. */
export async function serve(args: string[], io: CliIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        store: { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        token: { type: "string" },
        user: { type: "string" },
        "trust-proxy-user": { type: "string" },
        "notify-webhook": { type: "string" },
        "notify-secret": { type: "string" },
        key: { type: "string" },
        "mcp-resolve": { type: "boolean" },
        ...KEY_OPTIONS,
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new ServeUsageError((err as Error).message);
  }
  if (values.help) {
    io.stdout.write(`${SERVE_HELP}\n`);
    return 0;
  }
  const port = Number(values.port ?? 4319);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ServeUsageError(
      `--port must be a whole number from 0 to 65535, not "${values.port}"`,
    );
  const url = (values.store as string | undefined) ?? io.env.AUDIT_STORE;
  if (!url)
    throw new ServeUsageError(
      "no store: pass --store URL or set AUDIT_STORE (e.g. sqlite:./audit.db)",
    );
  const webhook = values["notify-webhook"] as string | undefined;
  const secret = (values["notify-secret"] as string | undefined) ?? io.env.AUDIT_NOTIFY_SECRET;
  if (webhook && !secret)
    throw new ServeUsageError(
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
      onError: (err: Error) =>
        io.stderr.write(`audit serve: ${err.message.replace(/^\[audit\] /, "")}\n`),
    });
    io.stdout.write(`audit serve: open ${await server.listen()}\n`);
  } catch (err) {
    await store.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE")
      throw new ServeUsageError(
        `port ${port} is in use; pick another with --port (0 for any free one)`,
      );
    if (e.code === "EADDRNOTAVAIL")
      throw new ServeUsageError(`cannot bind ${values.host}: no such address on this machine`);
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
