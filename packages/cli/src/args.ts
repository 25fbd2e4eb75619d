import { parseArgs } from "node:util";

/** One option of a command: how it is parsed and how its help line reads. */
export interface OptionDef {
  /** The long name, without the dashes: `store` for `--store`. */
  name: string;
  /** A one-letter alias: `o` for `-o`. */
  short?: string;
  /** `string` takes a value, `boolean` is a switch. */
  type: "string" | "boolean";
  /**
   * The option may be given several times; its values come as a list.
   * @default false
   */
  multiple?: boolean;
  /** The placeholder shown in the help: `URL` in `--store URL`. */
  value?: string;
  /** What the option does, for the help (one or more lines). */
  description: string;
  /**
   * The heading the option is listed under in the help.
   * @default "Options"
   */
  group?: string;
}

/** A command of `audit`: its options, help text and examples, from which its `--help` is made. */
export interface CommandDef {
  /** The command word: `query`. */
  name: string;
  /** One line for the command list of `audit --help`. */
  summary: string;
  /** Usage lines, each starting after `audit `. */
  usage: string[];
  /** Paragraphs printed between the usage and the options. */
  description?: string;
  /** The options the command takes (`--help` is added to every command). */
  options: OptionDef[];
  /** Text printed after the options (exit codes, key handling). */
  notes?: string;
  /** Command lines shown under "Examples:". */
  examples: string[];
  /**
   * How many positional arguments the command takes at most.
   * @default 0
   */
  maxPositionals?: number;
}

/** A mistake in how the command was called: the CLI prints it with a hint and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** What {@link parseCommand} returns: option values by long name, and the positional arguments. */
export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

const HELP_OPTION: OptionDef = {
  name: "help",
  short: "h",
  type: "boolean",
  description: "show this help",
  group: "Options",
};

/** Every option of `def`, `--help` last. */
export function optionsOf(def: CommandDef): OptionDef[] {
  return [...def.options, HELP_OPTION];
}

/**
 * Edit distance between two short words, counting a swap of two neighbours as one edit (optimal
 * string alignment), for "did you mean".
 */
export function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate closest to `word` when it is close enough to be a typo (an edit distance of at most
 * a third of its length, at least 1, or a unique prefix), else undefined.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const prefixed = candidates.filter((c) => word.length >= 2 && c.startsWith(word));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function unknownOption(raw: string, def: CommandDef): UsageError {
  const bare = raw.replace(/^-+/, "").split("=")[0]!;
  const names = optionsOf(def).map((o) => o.name);
  const guess = raw.startsWith("--") ? closest(bare, names) : undefined;
  return new UsageError(
    `unknown option '${raw.split("=")[0]}'${guess ? `; did you mean --${guess}?` : ""}`,
  );
}

/**
 * Parses `args` by the command's definition (node:util's parseArgs, strict).
 * @throws {UsageError} for an unknown option (with the closest known one), a missing value or too
 * many positional arguments.
 */
export function parseCommand(def: CommandDef, args: string[]): Parsed {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {};
  for (const o of optionsOf(def)) {
    options[o.name] = {
      type: o.type,
      ...(o.short !== undefined && { short: o.short }),
      ...(o.multiple && { multiple: true }),
    };
  }
  let parsed: { values: Parsed["values"]; positionals: string[] };
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const raw = /'([^']+)'/.exec(e.message)?.[1] ?? "";
      throw unknownOption(raw, def);
    }
    throw new UsageError(e.message.replace(/^Option /, "option "));
  }
  if (!parsed.values.help) {
    const max = def.maxPositionals ?? 0;
    if (parsed.positionals.length > max) {
      throw new UsageError(`unexpected argument '${parsed.positionals[max]}'`);
    }
  }
  return { values: { ...parsed.values }, positionals: parsed.positionals };
}

function optionLabel(o: OptionDef): string {
  const long = `--${o.name}${o.value ? ` ${o.value}` : ""}`;
  return o.short ? `-${o.short}, ${long}` : long;
}

/** The `--help` text of a command, made from its definition. */
export function helpText(def: CommandDef): string {
  const out: string[] = [`audit ${def.name} — ${def.summary}`, ""];
  const [first, ...more] = def.usage;
  out.push(`Usage: audit ${first}`);
  for (const u of more) out.push(`       audit ${u}`);
  if (def.description) out.push("", def.description);
  const groups = new Map<string, OptionDef[]>();
  for (const o of optionsOf(def)) {
    const g = o.group ?? "Options";
    groups.set(g, [...(groups.get(g) ?? []), o]);
  }
  const width = Math.max(...optionsOf(def).map((o) => optionLabel(o).length)) + 2;
  for (const [title, list] of groups) {
    out.push("", `${title}:`);
    for (const o of list) {
      const [line, ...rest] = o.description.split("\n");
      out.push(`  ${optionLabel(o).padEnd(width)}${line}`);
      for (const r of rest) out.push(`  ${" ".repeat(width)}${r}`);
    }
  }
  if (def.notes) out.push("", def.notes);
  out.push("", "Examples:", ...def.examples.map((e) => `  ${e}`));
  return out.join("\n");
}
