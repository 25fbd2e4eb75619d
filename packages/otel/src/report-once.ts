import type { AuditError } from "@audit/core";

/**
 * The default `onError`: the first failure of each kind (export, drop, eviction) goes to stderr,
 * later ones are only counted, so that a dead collector does not flood the application's logs.
 */
export function reportOnceToStderr(): (error: AuditError) => void {
  const said = new Set<string>();
  return (error) => {
    const kind = /queue full/.test(error.message)
      ? "drop"
      : /evict/.test(error.message)
        ? "evict"
        : "export";
    if (said.has(kind)) return;
    said.add(kind);
    console.warn(`${error.message} (further ones are only counted in the exporter's stats())`);
  };
}
