import { describe, expect, it } from "vitest";
import {
  type CommandDef,
  closest,
  distance,
  helpText,
  parseCommand,
  UsageError,
} from "../src/args.js";

const def: CommandDef = {
  name: "demo",
  summary: "a command to parse",
  usage: ["demo [--store URL] [-o F] NAME"],
  description: "What it does.",
  options: [
    { name: "store", type: "string", value: "URL", description: "the store", group: "Store" },
    { name: "format", short: "o", type: "string", value: "F", description: "table | json" },
    {
      name: "type",
      type: "string",
      multiple: true,
      value: "T",
      description: "a type\nrepeat for several",
    },
    { name: "dry-run", type: "boolean", description: "change nothing" },
  ],
  maxPositionals: 1,
  examples: ["audit demo --store memory: x"],
};

describe("the argument parser", () => {
  it("parses options, repeated options, short aliases and positionals", () => {
    const p = parseCommand(def, ["x", "-o", "json", "--type", "a", "--type=b", "--dry-run"]);
    expect(p.values).toMatchObject({ format: "json", type: ["a", "b"], "dry-run": true });
    expect(p.positionals).toEqual(["x"]);
  });

  it("suggests the option meant, and refuses extra arguments and missing values", () => {
    const err = (args: string[]) => {
      try {
        parseCommand(def, args);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error("no error");
    };
    expect(err(["--stroe", "x"])).toBe("unknown option '--stroe'; did you mean --store?");
    expect(err(["--dryrun"])).toBe("unknown option '--dryrun'; did you mean --dry-run?");
    expect(err(["--formta=json"])).toBe("unknown option '--formta'; did you mean --format?");
    expect(err(["--zzz"])).toBe("unknown option '--zzz'");
    expect(err(["a", "b"])).toBe("unexpected argument 'b'");
    expect(err(["--store"])).toMatch(/^option '--store <value>' argument missing/);
    // --help wins over everything else on the line.
    expect(parseCommand(def, ["a", "b", "--help"]).values.help).toBe(true);
  });

  it("finds typos by edit distance, a swap of neighbours counting as one", () => {
    expect(distance("query", "qeury")).toBe(1);
    expect(distance("verify", "verfy")).toBe(1);
    expect(distance("", "abc")).toBe(3);
    expect(closest("qeury", ["query", "tail"])).toBe("query");
    expect(closest("appr", ["approvals", "run"])).toBe("approvals");
    expect(closest("frobnicate", ["query", "tail", "run"])).toBeUndefined();
  });

  it("makes the help from the definition: usage, groups, multi-line descriptions, examples", () => {
    expect(helpText(def)).toBe(`audit demo — a command to parse

Usage: audit demo [--store URL] [-o F] NAME

What it does.

Store:
  --store URL     the store

Options:
  -o, --format F  table | json
  --type T        a type
                  repeat for several
  --dry-run       change nothing
  -h, --help      show this help

Examples:
  audit demo --store memory: x`);
  });
});
