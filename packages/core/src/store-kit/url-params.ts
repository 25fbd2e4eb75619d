import { AuditConfigError } from "../errors.js";
import { scrubString } from "../privacy.js";

/** How one store-URL parameter is read. */
export type UrlParam =
  | { kind: "integer"; min?: number }
  | { kind: "boolean" }
  | { kind: "choice"; values: readonly string[] }
  | { kind: "text" };

/** The type a parameter spec reads to. */
export type UrlParamValue<P extends UrlParam> = P extends { kind: "integer" }
  ? number
  : P extends { kind: "boolean" }
    ? boolean
    : P extends { kind: "choice"; values: readonly (infer V)[] }
      ? V
      : string;

/** The values read by {@link readUrlParams}: only the parameters the URL gave. */
export type UrlParamValues<S extends Record<string, UrlParam>> = {
  -readonly [K in keyof S]?: UrlParamValue<S[K]>;
};

/** Options of {@link readUrlParams}. */
export interface ReadUrlParamsOptions {
  /** Other spellings accepted for a parameter: `{ readonly: "readOnly" }`. */
  aliases?: Readonly<Record<string, string>>;
  /**
   * Parameters that are not the store's but its driver's (PostgreSQL's `sslmode`): returned in
   * `rest` instead of refused.
   */
  passThrough?: readonly string[];
}

/**
 * Splits `scheme:location?query` (also `scheme://location?query`) into the decoded location and
 * its parameters.
 * @throws AuditConfigError naming `example` when the URL has another scheme or no location.
 */
export function splitStoreUrl(
  url: string,
  scheme: string,
  example: string,
): { location: string; query: URLSearchParams } {
  const m = new RegExp(`^${scheme}:(?:\\/\\/)?([^?]*)(?:\\?(.*))?$`, "i").exec(url);
  if (!m?.[1]) {
    throw new AuditConfigError(
      `[${scheme}] "${scrubString(url)}" is not a ${scheme} store URL; use ${example}`,
    );
  }
  return { location: decodeURIComponent(m[1]), query: new URLSearchParams(m[2] ?? "") };
}

/**
 * Reads a store URL's parameters by a spec, so every store parses them alike: numbers must be
 * whole, booleans are `true`/`false`/`1`/`0`, choices are one of their values, and a parameter
 * given twice or not in the spec is an error that lists the known ones (a typo such as
 * `?maxEvent=10` must not be ignored silently). Values are scrubbed before they are shown.
 */
export function readUrlParams<S extends Record<string, UrlParam>>(
  store: string,
  query: URLSearchParams,
  spec: S,
  options: ReadUrlParamsOptions = {},
): { values: UrlParamValues<S>; rest: [string, string][] } {
  const values: Record<string, unknown> = {};
  const rest: [string, string][] = [];
  const seen = new Set<string>();
  for (const [given, value] of query) {
    const name = options.aliases?.[given] ?? given;
    const param = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!param) {
      if (options.passThrough?.includes(given)) {
        rest.push([given, value]);
        continue;
      }
      const known = [...Object.keys(spec), ...(options.passThrough ?? [])].join(", ");
      throw new AuditConfigError(
        `[${store}] unknown option "${scrubString(given)}" in the store URL; known: ${known}`,
      );
    }
    if (seen.has(name)) {
      throw new AuditConfigError(`[${store}] option ${name} is given twice in the store URL`);
    }
    seen.add(name);
    values[name] = readOne(store, name, value, param);
  }
  return { values: values as UrlParamValues<S>, rest };
}

function readOne(store: string, name: string, value: string, param: UrlParam): unknown {
  const shown = scrubString(value);
  switch (param.kind) {
    case "integer": {
      const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
      const min = param.min ?? 0;
      if (!Number.isSafeInteger(n) || n < min) {
        throw new AuditConfigError(
          `[${store}] ${name} must be a whole number ≥ ${min}, got "${shown}"`,
        );
      }
      return n;
    }
    case "boolean":
      if (value === "true" || value === "1") return true;
      if (value === "false" || value === "0") return false;
      throw new AuditConfigError(`[${store}] ${name} must be true or false, got "${shown}"`);
    case "choice":
      if (!param.values.includes(value)) {
        throw new AuditConfigError(
          `[${store}] ${name} must be ${param.values.join(" or ")}, got "${shown}"`,
        );
      }
      return value;
    default:
      if (value.length === 0) throw new AuditConfigError(`[${store}] ${name} must not be empty`);
      return value;
  }
}
