/**
 * Base class of every error @audit throws. `name` is set to the subclass name and the
 * underlying error, when there is one, is kept as `cause`.
 */
export class AuditError extends Error {
  /** A stable, machine-readable code, e.g. `"AUDIT_STORE"`. */
  readonly code: string;

  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options?.code ?? "AUDIT_ERROR";
  }
}

/** Configuration is invalid: a bad option, an unparseable URL, no store configured. */
export class AuditConfigError extends AuditError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: "AUDIT_CONFIG" });
  }
}

/** An event passed to `record` cannot be recorded as given (bad type, bad risk, bad id). */
export class AuditValidationError extends AuditError {
  constructor(message: string) {
    super(message, { code: "AUDIT_VALIDATION" });
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
      `[audit] the "${scheme}:" store needs ${packageName}, which is not installed; run \`${installCommand}\` (or pnpm add / yarn add ${packageName})`,
      { ...options, code: "AUDIT_ADAPTER_NOT_INSTALLED" },
    );
    this.packageName = packageName;
    this.installCommand = installCommand;
  }
}

/** A store operation failed: cannot connect, write rejected, corrupt data, closed store. */
export class StoreError extends AuditError {
  /** The id of the store that failed, e.g. `"postgres"`. */
  readonly storeId: string;

  constructor(storeId: string, message: string, options?: { cause?: unknown }) {
    super(`[audit] [${storeId}] ${message}`, { ...options, code: "AUDIT_STORE" });
    this.storeId = storeId;
  }
}

/** An exporter failed. Exporter failures reach `onError`, never the agent. */
export class ExportError extends AuditError {
  /** The id of the exporter that failed. */
  readonly exporterId: string;

  constructor(exporterId: string, message: string, options?: { cause?: unknown }) {
    super(`[audit] [exporter ${exporterId}] ${message}`, { ...options, code: "AUDIT_EXPORT" });
    this.exporterId = exporterId;
  }
}

/** The auditor's queue is full and `onOverflow` is `"throw"`, or an event was dropped. */
export class AuditOverflowError extends AuditError {
  constructor(message: string) {
    super(message, { code: "AUDIT_OVERFLOW" });
  }
}

/** The auditor (or a store, or an exporter) was used after `close()` / `shutdown()`. */
export class AuditClosedError extends AuditError {
  constructor(message: string) {
    super(message, { code: "AUDIT_CLOSED" });
  }
}

/** A wait ran out of time, e.g. `approvals.wait` with `timeoutMs`. */
export class AuditTimeoutError extends AuditError {
  constructor(message: string) {
    super(message, { code: "AUDIT_TIMEOUT" });
  }
}

/** No approval request with this id exists in the store. */
export class ApprovalNotFoundError extends AuditError {
  /** The approval id that was looked up. */
  readonly approvalId: string;

  constructor(approvalId: string) {
    super(
      `[audit] no approval request with id ${approvalId}; list open ones with approvals.pending()`,
      {
        code: "AUDIT_APPROVAL_NOT_FOUND",
      },
    );
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
      `[audit] approval ${approvalId} was already resolved "${resolution.outcome}" by ${resolution.resolvedBy} at ${resolution.time}; the first resolution wins`,
      { code: "AUDIT_APPROVAL_CONFLICT" },
    );
    this.approvalId = approvalId;
    this.resolution = resolution;
  }
}
