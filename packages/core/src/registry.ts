import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  AdapterNotInstalledError,
  AuditConfigError,
  type AuditError,
  StoreError,
} from "./errors.js";
import { ConsoleExporter } from "./exporters/console-exporter.js";
import type { AuditExporter } from "./exporters/exporter.js";
import { MemoryStore } from "./memory-store.js";
import { NullStore } from "./null-store.js";
import { scrubString } from "./privacy.js";
import type { AuditStore } from "./store.js";
import { readUrlParams } from "./store-kit/url-params.js";

/** Opens a store from a URL of its scheme. Options come from the caller of `openStore`. */
export type StoreFactory = (
  url: string,
  options?: Record<string, unknown>,
) => AuditStore | Promise<AuditStore>;

/** Creates an exporter configured from the environment (`AUDIT_EXPORTERS`, `OTEL_*`, …). */
export type ExporterFactory = (env: NodeJS.ProcessEnv) => AuditExporter | Promise<AuditExporter>;

/**
 * What an adapter package exports so `openStore` can use it: `createStoreFromUrl` for stores,
 * `createExporterFromEnv` for exporters.
 */
export interface AdapterModule {
  createStoreFromUrl?: StoreFactory;
  createExporterFromEnv?: ExporterFactory;
}

function memoryFactory(url: string): AuditStore {
  const { values } = readUrlParams(
    "memory",
    new URLSearchParams(url.split("?")[1] ?? ""),
    MEMORY_PARAMS,
  );
  return new MemoryStore(values);
}

const MEMORY_PARAMS = { maxEvents: { kind: "integer", min: 1 } } as const;

const storeFactories = new Map<string, StoreFactory>([
  ["memory", memoryFactory],
  ["null", () => new NullStore()],
]);

/** Store schemes served by an adapter package, loaded only when used. */
const storePackages = new Map<string, string>([
  ["jsonl", "@audit/jsonl"],
  ["sqlite", "@audit/sqlite"],
  ["postgres", "@audit/postgres"],
  ["postgresql", "@audit/postgres"],
]);

const exporterFactories = new Map<string, ExporterFactory>([
  ["console", () => new ConsoleExporter()],
]);

const exporterPackages = new Map<string, string>([
  ["otel", "@audit/otel"],
  ["logging", "@audit/logging"],
]);

/**
 * Adds (or replaces) the store for a URL scheme, for a custom adapter: after
 * `registerStore("redis", (url) => new RedisStore(url))`, `openStore("redis://…")` uses it.
 */
export function registerStore(scheme: string, factory: StoreFactory): void {
  if (!/^[a-z][a-z0-9+.-]*$/.test(scheme)) {
    throw new AuditConfigError(
      `"${scheme}" is not a valid URL scheme (lowercase letters, digits, + . -)`,
    );
  }
  storeFactories.set(scheme, factory);
}

/** Adds (or replaces) an exporter name usable in `AUDIT_EXPORTERS`. */
export function registerExporter(name: string, factory: ExporterFactory): void {
  exporterFactories.set(name, factory);
}

/** The store URL schemes `openStore` knows, built-in and registered. */
export function supportedSchemes(): string[] {
  return [...new Set([...storeFactories.keys(), ...storePackages.keys()])].sort();
}

function schemeOf(url: string): string | undefined {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url);
  return m?.[1]?.toLowerCase();
}

/**
 * Opens a store from a URL: `memory:`, `null:`, `jsonl:./dir`, `sqlite:./audit.db`,
 * `sqlite::memory:`, `postgres://…`. Adapter packages are imported on demand from the user's
 * project, so only the backends in use need to be installed.
 * @throws {AuditConfigError} for a malformed URL or an unknown scheme;
 *   {@link AdapterNotInstalledError} when the scheme's package is not installed.
 */
export async function openStore(
  url: string,
  options?: Record<string, unknown>,
): Promise<AuditStore> {
  if (typeof url !== "string" || url.trim() === "") {
    throw new AuditConfigError('a store URL is required, e.g. "sqlite:./audit.db"');
  }
  const scheme = schemeOf(url.trim());
  if (!scheme) {
    throw new AuditConfigError(
      `"${scrubString(url)}" is not a store URL; expected scheme:location, one of: ${supportedSchemes()
        .map((s) => `${s}:`)
        .join(", ")}`,
    );
  }
  const factory = storeFactories.get(scheme);
  if (factory) return factory(url.trim(), options);
  const pkg = storePackages.get(scheme);
  if (!pkg) {
    throw new AuditConfigError(
      `unknown store scheme "${scheme}:" in "${scrubString(url)}"; supported: ${supportedSchemes()
        .map((s) => `${s}:`)
        .join(", ")} (or registerStore a custom one)`,
    );
  }
  const mod = await importAdapter(pkg, scheme);
  if (typeof mod.createStoreFromUrl !== "function") {
    throw new AuditConfigError(
      `${pkg} does not export createStoreFromUrl; is it a compatible version?`,
    );
  }
  return mod.createStoreFromUrl(url.trim(), options);
}

/**
 * Creates the exporters named in a comma-separated list such as `AUDIT_EXPORTERS=otel,console`.
 * @throws {AuditConfigError} for an unknown name; {@link AdapterNotInstalledError} for a missing package.
 */
export async function exportersFromEnv(
  list: string | undefined = process.env.AUDIT_EXPORTERS,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AuditExporter[]> {
  const names = (list ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0 && s !== "none");
  const out: AuditExporter[] = [];
  for (const name of names) {
    const factory = exporterFactories.get(name);
    if (factory) {
      out.push(await factory(env));
      continue;
    }
    const pkg = exporterPackages.get(name);
    if (!pkg) {
      throw new AuditConfigError(
        `unknown exporter "${name}" in AUDIT_EXPORTERS; known: ${[...new Set([...exporterFactories.keys(), ...exporterPackages.keys()])].join(", ")}`,
      );
    }
    const mod = await importAdapter(pkg, name);
    if (typeof mod.createExporterFromEnv !== "function") {
      throw new AuditConfigError(
        `${pkg} does not export createExporterFromEnv; is it a compatible version?`,
      );
    }
    out.push(await mod.createExporterFromEnv(env));
  }
  return out;
}

function isMissing(err: unknown, pkg: string): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code !== "ERR_MODULE_NOT_FOUND" && e?.code !== "MODULE_NOT_FOUND") return false;
  // A missing dependency *of* the adapter is a broken install, not a missing adapter.
  return typeof e.message === "string" && e.message.includes(`'${pkg}'`);
}

/**
 * Imports an adapter package. Tried first from here (npm's flat node_modules and workspaces), then
 * from the user's project and from the main script's folder, because with pnpm's strict layout
 * `@audit/core` cannot see packages it does not depend on, while the user's project can.
 */
async function importAdapter(pkg: string, scheme: string): Promise<AdapterModule> {
  try {
    return (await import(pkg)) as AdapterModule;
  } catch (err) {
    if (!isMissing(err, pkg)) throw loadFailed(pkg, err);
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
    try {
      return (await import(pathToFileURL(resolved).href)) as AdapterModule;
    } catch (err) {
      throw loadFailed(pkg, err);
    }
  }
  throw new AdapterNotInstalledError(pkg, scheme);
}

function loadFailed(pkg: string, err: unknown): AuditError {
  const message = err instanceof Error ? err.message : String(err);
  return new StoreError(pkg, `is installed but failed to load (${message}); reinstall it`, {
    cause: err,
  });
}
