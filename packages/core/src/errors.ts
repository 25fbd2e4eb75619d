/**
 * The stage of the write path (or the area of the library) an error came from, so that `onError`
 * handlers and `health()` can tell a store outage from a spool on a full disk or a slow exporter.
 */
export type AuditStage =
  | "config"
  | "record"
  | "pipeline"
  | "seal"
  | "store"
  | "spool"
  | "export"
  | "approvals"
  | "verify";

const PREFIX = "[audit] ";

// The one place the "[audit]" prefix is added; a message that already carries it keeps one copy.
function prefixed(message: string): string {
  return message.startsWith(PREFIX) ? message : PREFIX + message;
}

/**
 * Base class of every error @audit throws. `name` is set to the subclass name, the underlying
 * error, when there is one, is kept as `cause`, and the message starts with `[audit]` exactly once.
 */
export class AuditError extends Error {
  /** A stable, machine-readable code, e.g. `"AUDIT_STORE"`. */
  readonly code: string;
  /** Where it happened. */
  readonly stage: AuditStage;

  constructor(message: string, options?: { cause?: unknown; code?: string; stage?: AuditStage }) {
    super(prefixed(message), options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options?.code ?? "AUDIT_ERROR";
    this.stage = options?.stage ?? "pipeline";
  }
}

/** Configuration is invalid: a bad option, an unparseable URL, no store configured. */
export class AuditConfigError extends AuditError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: "AUDIT_CONFIG", stage: "config" });
  }
}

/**
 * An event passed to `record` cannot be recorded as given (bad type, bad risk, bad id, a type
 * reserved for the library), or a store refused an event's content.
 */
export class AuditValidationError extends AuditError {
  constructor(message: string, options?: { cause?: unknown; stage?: AuditStage }) {
    super(message, { ...options, code: "AUDIT_VALIDATION", stage: options?.stage ?? "record" });
  }
}

/**
 * A store URL names an adapter package that is not installed in the user's project.
 * The message carries the install command.
 */
export class AdapterNotInstalledError extends AuditError {
  /** The npm package that provides the adapter, e.g. `"@audit/postgres"`. */
  readonly packageName: string;
  /** The command that installs it. */
  readonly installCommand: string;

  constructor(packageName: string, scheme: string, options?: { cause?: unknown }) {
    const installCommand = `npm install ${packageName}`;
    super(
      `the "${scheme}:" store needs ${packageName}, which is not installed; run \`${installCommand}\` (or pnpm add / yarn add ${packageName})`,
      { ...options, code: "AUDIT_ADAPTER_NOT_INSTALLED", stage: "config" },
    );
    this.packageName = packageName;
    this.installCommand = installCommand;
  }
}

function storePrefixed(storeId: string, message: string): string {
  const bare = message.startsWith(PREFIX) ? message.slice(PREFIX.length) : message;
  const tag = `[${storeId}] `;
  return bare.startsWith(tag) ? bare : tag + bare;
}

/** A store operation failed: cannot connect, write rejected, corrupt data, closed store. */
export class StoreError extends AuditError {
  /** The id of the store that failed, e.g. `"postgres"`. */
  readonly storeId: string;

  constructor(
    storeId: string,
    message: string,
    options?: { cause?: unknown; code?: string; stage?: AuditStage },
  ) {
    super(storePrefixed(storeId, message), {
      ...options,
      code: options?.code ?? "AUDIT_STORE",
      stage: options?.stage ?? "store",
    });
    this.storeId = storeId;
  }
}

/** A store call did not settle within its time limit; it counts as a failed write. */
export class StoreTimeoutError extends StoreError {
  /** The limit that ran out, in milliseconds. */
  readonly timeoutMs: number;

  constructor(storeId: string, what: string, timeoutMs: number) {
    super(storeId, `${what} did not settle within ${timeoutMs} ms`, {
      code: "AUDIT_STORE_TIMEOUT",
    });
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The store refused an event's content (not a transient failure): the event was set aside in the
 * spool's quarantine with this reason, and the rest of its batch was written.
 */
export class EventRejectedError extends StoreError {
  /** The id of the event the store refused. */
  readonly eventId: string;

  constructor(storeId: string, eventId: string, options?: { cause?: unknown }) {
    const reason = options?.cause instanceof Error ? options.cause.message : String(options?.cause);
    super(
      storeId,
      `refused event ${eventId} (${reason}); it is quarantined in the spool and not retried`,
      { ...options, code: "AUDIT_EVENT_REJECTED" },
    );
    this.eventId = eventId;
  }
}

/** The local spool could not take or give back events (disk full, I/O error, over its bound). */
export class SpoolError extends AuditError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: "AUDIT_SPOOL", stage: "spool" });
  }
}

/** An exporter failed. Exporter failures reach `onError`, never the agent. */
export class ExportError extends AuditError {
  /** The id of the exporter that failed. */
  readonly exporterId: string;

  constructor(exporterId: string, message: string, options?: { cause?: unknown }) {
    super(storePrefixed(`exporter ${exporterId}`, message), {
      ...options,
      code: "AUDIT_EXPORT",
      stage: "export",
    });
    this.exporterId = exporterId;
  }
}

/** The auditor's queue is full and `onOverflow` is `"throw"`, or an event was dropped. */
export class AuditOverflowError extends AuditError {
  constructor(message: string) {
    super(message, { code: "AUDIT_OVERFLOW", stage: "pipeline" });
  }
}

/** The auditor (or a store, or an exporter) was used after `close()` / `shutdown()`. */
export class AuditClosedError extends AuditError {
  constructor(message: string) {
    super(message, { code: "AUDIT_CLOSED", stage: "record" });
  }
}

/** A wait ran out of time, e.g. `approvals.wait` with `timeoutMs`. */
export class AuditTimeoutError extends AuditError {
  constructor(message: string, options?: { stage?: AuditStage }) {
    super(message, { code: "AUDIT_TIMEOUT", stage: options?.stage ?? "approvals" });
  }
}

/** No approval request with this id exists in the store. */
export class ApprovalNotFoundError extends AuditError {
  /** The approval id that was looked up. */
  readonly approvalId: string;

  constructor(approvalId: string) {
    super(`no approval request with id ${approvalId}; list open ones with approvals.pending()`, {
      code: "AUDIT_APPROVAL_NOT_FOUND",
      stage: "approvals",
    });
    this.approvalId = approvalId;
  }
}

/** The approval was already resolved by someone else: the first resolution wins. */
export class ApprovalConflictError extends AuditError {
  /** The approval id. */
  readonly approvalId: string;
  /** The resolution that won. */
  readonly resolution: { outcome: string; resolvedBy: string; time: string };

  constructor(
    approvalId: string,
    resolution: { outcome: string; resolvedBy: string; time: string },
  ) {
    super(
      `approval ${approvalId} was already resolved "${resolution.outcome}" by ${resolution.resolvedBy} at ${resolution.time}; the first resolution wins`,
      { code: "AUDIT_APPROVAL_CONFLICT", stage: "approvals" },
    );
    this.approvalId = approvalId;
    this.resolution = resolution;
  }
}

/** A short description of any thrown value, for messages. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
