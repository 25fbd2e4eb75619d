import type { CommandDef, Parsed } from "./args.js";
import type { CliIo } from "./io.js";

/** A command of `audit`: its definition (options, help) and what it does with what was parsed. */
export interface Command {
  def: CommandDef;
  run(parsed: Parsed, io: CliIo): Promise<number>;
}
