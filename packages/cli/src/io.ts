/** Where the CLI writes, and what it knows of its environment. Tests pass their own. */
export interface CliIo {
  stdout: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Resolves when the user interrupts (`tail -f`, `serve`); defaults to SIGINT. */
  interrupted?: Promise<void>;
}

/** A command: its parsed arguments in, its exit code out. */
export type CommandRun = (args: string[], io: CliIo) => Promise<number>;
