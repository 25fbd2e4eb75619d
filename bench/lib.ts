// Small helpers for the benchmark harness: fixed event shapes, a seeded random source, timing.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { type EventInput, uuidv7, uuidv7Time } from "@audit/core";

/** A source of numbers in [0, 1). */
export type Rand = () => number;

/** mulberry32: the same sequence on every run. */
export function seeded(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS =
  "refund order customer invoice shipping address policy approve deny search lookup ticket agent".split(
    " ",
  );

function words(rand: Rand, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += (i ? " " : "") + WORDS[Math.floor(rand() * WORDS.length)];
  return s;
}

/** A small tool event input: about 300 bytes once stamped and chained. */
export function smallInput(rand: Rand, i: number): EventInput {
  return {
    type: "tool.start",
    sessionId: `s-${i % 50}`,
    runId: `r-${i % 500}`,
    actor: "support-bot",
    data: {
      tool: "lookup_order",
      callId: `c-${i}`,
      args: { orderId: `A-${1000 + (i % 9000)}`, q: words(rand, 3) },
    },
  };
}

/** A large model event input: about 4 KB. */
export function largeInput(rand: Rand, i: number): EventInput {
  return {
    type: "llm.end",
    sessionId: `s-${i % 50}`,
    runId: `r-${i % 500}`,
    actor: "support-bot",
    data: {
      model: "gpt-x",
      provider: "openai",
      inputTokens: 900 + (i % 100),
      outputTokens: 200,
      durationMs: 850,
      summary: words(rand, 600).slice(0, 3900),
    },
  };
}

/** Makes the input of event number `i`. */
export type Shape = (rand: Rand, i: number) => EventInput;

/** `n` inputs of one shape, made before a measurement so that making them is not measured. */
export function inputs(n: number, shape: Shape, seed = 1): EventInput[] {
  const rand = seeded(seed);
  return Array.from({ length: n }, (_, i) => shape(rand, i));
}

/** An event with the id and time the auditor would give it, for the raw-driver baselines. */
export type Stamped = EventInput & { id: string; time: string };

/** Events stamped like the auditor stamps them (no chain, no privacy), for raw baselines. */
export function stamped(n: number, shape: Shape = smallInput, seed = 1): Stamped[] {
  const rand = seeded(seed);
  return Array.from({ length: n }, (_, i) => {
    const id = uuidv7();
    const input = shape(rand, i);
    return { ...input, id, time: new Date(uuidv7Time(id) ?? Date.now()).toISOString() };
  });
}

/** Wall-clock milliseconds of an async function. */
export async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; result: T }> {
  const t = performance.now();
  const r = await fn();
  return { ms: performance.now() - t, result: r };
}

/** Runs `fn` under an event-loop delay monitor; returns p99 and max delay in ms. */
export async function loopDelay(fn: () => Promise<unknown>): Promise<{ p99: number; max: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await fn();
  h.disable();
  return { p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

export const fmt = {
  n: (v: number): string =>
    v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(v >= 10 ? 1 : 2),
  ratio: (v: number): string => `${v.toFixed(2)}×`,
};
