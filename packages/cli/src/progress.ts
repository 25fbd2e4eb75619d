import type { CliIo } from "./io.js";

/** A progress line on stderr, redrawn in place. */
export interface Progress {
  /** Shows `text` after the label (the first at once, then at most ten redraws a second). */
  update(text: string): void;
  /** Clears the line, or ends it with `final` when given. */
  end(final?: string): void;
}

/** A progress line that draws nothing (`--quiet`, or stderr not a terminal). */
export const NO_PROGRESS: Progress = { update: () => undefined, end: () => undefined };

/**
 * A progress line for a long command, drawn only when stderr is a terminal (a pipe or a log file
 * gets nothing). Without updates it still shows the seconds elapsed, so a slow store looks busy,
 * not stuck.
 */
export function progressLine(io: CliIo, label: string): Progress {
  if (!io.stderr.isTTY) return NO_PROGRESS;
  const started = Date.now();
  let text = "";
  let drawn = 0;
  let ended = false;
  const draw = () => {
    const seconds = Math.floor((Date.now() - started) / 1000);
    io.stderr.write(
      `\r\x1b[K${label}${text ? ` ${text}` : ""}${seconds > 0 ? ` (${seconds}s)` : ""}`,
    );
    drawn = Date.now();
  };
  draw();
  const timer = setInterval(draw, 1000);
  timer.unref();
  return {
    update(t) {
      const first = text === "";
      text = t;
      // The first news at once, then at most ten redraws a second.
      if (first || Date.now() - drawn >= 100) draw();
    },
    end(final) {
      if (ended) return;
      ended = true;
      clearInterval(timer);
      io.stderr.write(final === undefined ? "\r\x1b[K" : `\r\x1b[K${final}\n`);
    },
  };
}

/**
 * `store` as it is, except that every event its streams yield is counted into `onEvent`: progress
 * for a function that reads the store (verifyChain) without touching that function.
 */
export function countingReads<T extends object>(store: T, onEvent: (n: number) => void): T {
  let n = 0;
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      // Verify reads a store's stored rows where it offers them, its stream otherwise.
      if (prop !== "stream" && prop !== "storedRows") return value.bind(target);
      return (...args: unknown[]) => {
        const inner = value.apply(target, args) as AsyncIterable<unknown>;
        return {
          async *[Symbol.asyncIterator]() {
            for await (const e of inner) {
              onEvent(++n);
              yield e;
            }
          },
        };
      };
    },
  });
}
