import { AuditConfigError } from "../errors.js";

// Checks a user's secret pattern before it is used. Backtracking engines (V8's included) can take
// time exponential or polynomial in the text for some patterns; a scrubber runs on every string an
// agent records, so one hostile string must not stall the process. The rule accepted here is
// simple enough to state and to prove: no unbounded repetition, no repetition of anything that
// itself has a choice (nested repetition or alternation), no back-references or lookaround, and a
// bounded number of ways and characters per attempt. A match attempt then costs at most
// MAX_STEPS character comparisons whatever the text, and a whole scan is linear in its length.

/** The most ways a pattern may try at one position (the product of its repetition ranges). */
export const MAX_WAYS = 256;
/** The most character comparisons one attempt may take (ways × longest match). */
export const MAX_STEPS = 4096;

interface Shape {
  /** How many ways the part can match at one position. */
  ways: number;
  /** The longest text it can match. */
  maxWidth: number;
  /** The shortest text it can match. */
  minWidth: number;
  /** Whether matching it involves a choice (alternation or a variable repetition). */
  choice: boolean;
}

class Refused extends Error {}

class PatternParser {
  #pos = 0;
  readonly #src: string;
  readonly #unicode: boolean;
  readonly #sets: boolean;

  constructor(src: string, flags: string) {
    this.#src = src;
    this.#unicode = flags.includes("u") || flags.includes("v");
    this.#sets = flags.includes("v");
  }

  parse(): Shape {
    const shape = this.#disjunction();
    if (this.#pos < this.#src.length) throw new Refused(`unexpected ")" at ${this.#pos}`);
    return shape;
  }

  #peek(offset = 0): string {
    return this.#src[this.#pos + offset] ?? "";
  }

  #disjunction(): Shape {
    const alternatives = [this.#alternative()];
    while (this.#peek() === "|") {
      this.#pos++;
      alternatives.push(this.#alternative());
    }
    return {
      ways: alternatives.reduce((n, a) => n + a.ways, 0),
      maxWidth: Math.max(...alternatives.map((a) => a.maxWidth)),
      minWidth: Math.min(...alternatives.map((a) => a.minWidth)),
      choice: alternatives.length > 1 || alternatives.some((a) => a.choice),
    };
  }

  #alternative(): Shape {
    const shape: Shape = { ways: 1, maxWidth: 0, minWidth: 0, choice: false };
    while (this.#pos < this.#src.length && this.#peek() !== "|" && this.#peek() !== ")") {
      const term = this.#term();
      shape.ways *= term.ways;
      shape.maxWidth += term.maxWidth;
      shape.minWidth += term.minWidth;
      shape.choice ||= term.choice;
      if (shape.ways > MAX_WAYS) throw new Refused(`it can match in more than ${MAX_WAYS} ways`);
    }
    return shape;
  }

  #term(): Shape {
    const c = this.#peek();
    if (c === "^" || c === "$") {
      this.#pos++;
      return { ways: 1, maxWidth: 0, minWidth: 0, choice: false };
    }
    if (c === "\\" && (this.#peek(1) === "b" || this.#peek(1) === "B")) {
      this.#pos += 2;
      return { ways: 1, maxWidth: 0, minWidth: 0, choice: false };
    }
    const atom = this.#atom();
    return this.#quantified(atom);
  }

  #atom(): Shape {
    const one: Shape = { ways: 1, maxWidth: 1, minWidth: 1, choice: false };
    const c = this.#peek();
    if (c === "(") return this.#group();
    if (c === "[") {
      this.#class();
      return one;
    }
    if (c === "\\") {
      this.#escape();
      return one;
    }
    this.#pos++;
    return one;
  }

  #group(): Shape {
    const src = this.#src;
    if (
      src.startsWith("(?=", this.#pos) ||
      src.startsWith("(?!", this.#pos) ||
      src.startsWith("(?<=", this.#pos) ||
      src.startsWith("(?<!", this.#pos)
    ) {
      throw new Refused("lookahead and lookbehind are not allowed");
    }
    if (src.startsWith("(?<", this.#pos)) {
      const close = src.indexOf(">", this.#pos);
      this.#pos = close + 1;
    } else if (src.startsWith("(?", this.#pos)) {
      // (?: and modifier groups such as (?i:…)
      this.#pos = src.indexOf(":", this.#pos) + 1;
    } else {
      this.#pos++;
    }
    const inner = this.#disjunction();
    if (this.#peek() !== ")") throw new Refused("unbalanced parentheses");
    this.#pos++;
    return inner;
  }

  #class(): void {
    // The RegExp constructor already checked the syntax: only find the end of the class.
    let depth = 0;
    this.#pos++;
    while (this.#pos < this.#src.length) {
      const c = this.#peek();
      if (c === "\\") {
        this.#pos += 2;
        continue;
      }
      if (c === "[" && this.#sets) depth++;
      else if (c === "]") {
        if (depth === 0) {
          this.#pos++;
          return;
        }
        depth--;
      }
      this.#pos++;
    }
  }

  #escape(): void {
    const next = this.#peek(1);
    if (/^[1-9]$/.test(next) || (next === "k" && this.#peek(2) === "<")) {
      throw new Refused("back-references are not allowed");
    }
    if ((next === "p" || next === "P") && this.#unicode && this.#peek(2) === "{") {
      this.#pos = this.#src.indexOf("}", this.#pos) + 1;
      return;
    }
    if (next === "u" && this.#unicode && this.#peek(2) === "{") {
      this.#pos = this.#src.indexOf("}", this.#pos) + 1;
      return;
    }
    if (next === "u") {
      this.#pos += 6;
      return;
    }
    if (next === "x") {
      this.#pos += 4;
      return;
    }
    if (next === "c") {
      this.#pos += 3;
      return;
    }
    this.#pos += 2;
  }

  #quantified(atom: Shape): Shape {
    const c = this.#peek();
    let min: number;
    let max: number;
    if (c === "*" || c === "+") {
      throw new Refused(`"${c}" repeats without bound`);
    } else if (c === "?") {
      min = 0;
      max = 1;
      this.#pos++;
    } else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.#src.slice(this.#pos, this.#pos + 24));
      if (!m) return atom; // a literal "{" outside unicode mode
      min = Number(m[1]);
      if (m[2] !== undefined && m[3] === "") throw new Refused(`"${m[0]}" repeats without bound`);
      max = m[3] !== undefined ? Number(m[3]) : min;
      this.#pos += m[0].length;
    } else {
      return atom;
    }
    if (this.#peek() === "?") this.#pos++;
    if (atom.choice && max > 1) {
      throw new Refused("a repetition of something that has a choice (nested repetition or |)");
    }
    const ways = (max - min + 1) * atom.ways;
    if (ways > MAX_WAYS) throw new Refused(`it can match in more than ${MAX_WAYS} ways`);
    return {
      ways,
      maxWidth: atom.maxWidth * max,
      minWidth: atom.minWidth * min,
      choice: atom.choice || max > min,
    };
  }
}

/**
 * Refuses a pattern that could take more than linear time on hostile text, or that matches empty
 * text, with an {@link AuditConfigError} naming the pattern and saying how to fix it.
 */
export function assertSafePattern(name: string, pattern: RegExp, what = "scrub pattern"): void {
  const shown = `/${pattern.source}/${pattern.flags}`;
  let shape: Shape;
  try {
    shape = new PatternParser(pattern.source, pattern.flags).parse();
    if (shape.ways * Math.max(shape.maxWidth, 1) > MAX_STEPS) {
      throw new Refused(`one attempt can take more than ${MAX_STEPS} steps`);
    }
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    throw new AuditConfigError(
      `[audit] privacy ${what} "${name}" ${shown} is refused: ${err.message}. Patterns run on every recorded string, so they must run in linear time: use bounded counts such as {1,64} instead of + or *, no repetition of groups with | or nested repetition, no back-references or lookaround`,
    );
  }
  if (shape.minWidth === 0 && pattern.source !== "") {
    throw new AuditConfigError(
      `[audit] privacy ${what} "${name}" ${shown} is refused: it can match empty text, which would mark nothing`,
    );
  }
}
