// Secret scrubbing: cost per event, before (the 0.1.0 regular expressions, scrub-baseline.js) and
// after (the linear scanner of @audit/core), and 1 MB of text crafted against each detector.
// Prints a Markdown table. Run after a build: node --import tsx bench/scrub.js
import { cpus } from "node:os";
import { Worker } from "node:worker_threads";
import { PrivacyFilter, scrubString, uuidv7 } from "@audit/core";
import { fmt, largeInput, median, seeded, smallInput } from "./lib.js";
import { baselineScrub } from "./scrub-baseline.js";

const REPETITIONS = 7;
const EVENTS = 20_000;

/** An event with secrets in it, as an agent calling an API would record. */
function secretInput(_rand, i) {
  return {
    type: "tool.end",
    sessionId: `s-${i % 50}`,
    runId: `r-${i % 500}`,
    actor: "support-bot",
    data: {
      tool: "http",
      callId: `c-${i}`,
      args: {
        url: `https://api:hunter${i}@api.example.com/v1/orders?token=tok${i}&page=2`,
        headers: { authorization: `Bearer abcdef${i}`, accept: "application/json" },
      },
      result: {
        body: `{"id":${i},"status":"ok","note":"set OPENAI_API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrSt${i}"}`,
        log: `connected as svc with password: correct horse battery ${i}`,
      },
    },
  };
}

function stampedEvents(shape) {
  const rand = seeded(7);
  return Array.from({ length: EVENTS }, (_, i) => ({
    id: uuidv7(),
    time: new Date().toISOString(),
    ...shape(rand, i),
  }));
}

/** Every string an event holds (payload values, keys, envelope fields). */
function stringsOf(value, out = []) {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsOf(v, out);
  else if (value && typeof value === "object")
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      stringsOf(v, out);
    }
  return out;
}

/**
 * ns per event of each function over its events, repeated; the functions take turns within each
 * repetition, so a drift of the machine's speed weighs on all of them alike. Returns median and
 * min–max per function.
 */
function perEvent(cases) {
  for (const [events, fn] of cases) fn(events.slice(0, 2000)); // warm up
  const runs = cases.map(() => []);
  for (let r = 0; r < REPETITIONS; r++) {
    cases.forEach(([events, fn], k) => {
      const t = performance.now();
      fn(events);
      runs[k].push(((performance.now() - t) * 1e6) / events.length);
    });
  }
  return runs.map((v) => ({ median: median(v), min: Math.min(...v), max: Math.max(...v) }));
}

const shapes = [
  ["small tool event (~300 B)", smallInput],
  ["large model event (~4 KB)", largeInput],
  ["event with 6 secrets (~700 B)", secretInput],
];

const perEventRows = [];
for (const [name, shape] of shapes) {
  const events = stampedEvents(shape);
  const strings = events.map((e) => stringsOf(e));
  const filter = new PrivacyFilter({ captureContent: true });
  const [before, after, whole] = perEvent([
    [
      strings,
      (list) => {
        for (const s of list) for (const x of s) baselineScrub(x);
      },
    ],
    [
      strings,
      (list) => {
        for (const s of list) for (const x of s) scrubString(x);
      },
    ],
    [
      events,
      (list) => {
        for (const e of list) filter.apply(e);
      },
    ],
  ]);
  perEventRows.push({ name, before, after, whole });
}

// 1 MB crafted against each detector; the baseline on 16 KB of the same text, stopped after 2 s.
const MB = 1 << 20;
const fill = (unit, size = MB) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
const ADVERSARIAL = {
  jwt: (n) => fill("eyJ-", n),
  "jwt (no dot)": (n) => `eyJ${"a".repeat(n)}`,
  "url-password": (n) => fill("a://b:", n),
  "url-password (no @)": (n) => `x://a:${"b".repeat(n)}`,
  // recheck's attack string against the old pattern, with the "://" its prefilter looked for.
  "url-password (scheme run)": (n) => `${fill("A+", n - 3)}://`,
  "secret-assignment": (n) => fill("password=", n),
  "secret-assignment (long names)": (n) => fill(`${"a".repeat(100)}=`, n),
  "secret-assignment (spaces)": (n) => `password${" ".repeat(n)}`,
  passphrase: (n) => `password:${" ".repeat(n)}`,
  "openai-key": (n) => fill("sk-", n),
  "aws-access-key": (n) => fill("AKIA", n),
  "github-token": (n) => fill(`ghp_${"a".repeat(30)} `, n),
  "private-key": (n) => fill("-----BEGIN ", n),
  "private-key (unterminated)": (n) => `-----BEGIN RSA PRIVATE KEY-----${fill("-----END ", n)}`,
  "bearer-token": (n) => fill("Bearer ", n),
  mixed: (n) => fill("eyJ-sk-:=//@a", n),
};

function baselineWithLimit(text, limitMs) {
  return new Promise((resolve) => {
    const worker = new Worker(
      `const { parentPort, workerData } = require("node:worker_threads");
       import(workerData.baseline).then(({ baselineScrub }) => {
         const t = performance.now();
         baselineScrub(workerData.text);
         parentPort.postMessage(performance.now() - t);
       });`,
      {
        eval: true,
        workerData: { text, baseline: new URL("./scrub-baseline.js", import.meta.url).href },
      },
    );
    const timer = setTimeout(() => {
      void worker.terminate();
      resolve(undefined);
    }, limitMs);
    worker.once("message", (ms) => {
      clearTimeout(timer);
      void worker.terminate();
      resolve(ms);
    });
  });
}

const BASELINE_BYTES = 16 * 1024;
const BASELINE_LIMIT_MS = 2000;
const adversarialRows = [];
for (const [name, make] of Object.entries(ADVERSARIAL)) {
  const text = make(MB);
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    scrubString(text);
    runs.push(performance.now() - t);
  }
  const before = await baselineWithLimit(make(BASELINE_BYTES), BASELINE_LIMIT_MS);
  adversarialRows.push({ name, after: runs, before });
}

const ns = (v) => `${fmt.n(v)} ns`;
const out = [];
out.push(
  `# Secret scrubbing\n\nnode ${process.version}, ${cpus()[0]?.model ?? "?"} × ${cpus().length}; ${EVENTS.toLocaleString("en-US")} events × ${REPETITIONS} repetitions; median (min–max) per event.\n`,
);
out.push(
  "| event | before: regex scrubber, every string | after: linear scanner, every string | after: PrivacyFilter.apply, whole event |",
);
out.push("| --- | --- | --- | --- |");
for (const r of perEventRows) {
  out.push(
    `| ${r.name} | ${ns(r.before.median)} (${fmt.n(r.before.min)}–${fmt.n(r.before.max)}) | ${ns(r.after.median)} (${fmt.n(r.after.min)}–${fmt.n(r.after.max)}) | ${ns(r.whole.median)} (${fmt.n(r.whole.min)}–${fmt.n(r.whole.max)}) |`,
  );
}
out.push(
  `\n## Crafted input\n\nAfter: scrubString on 1 MB, median (min–max) of 5 runs. Before: the regex scrubber on the first 16 KB of the same text, stopped after ${BASELINE_LIMIT_MS / 1000} s.\n`,
);
out.push("| crafted against | after, 1 MB | before, 16 KB |");
out.push("| --- | --- | --- |");
for (const r of adversarialRows) {
  const before =
    r.before === undefined ? `> ${BASELINE_LIMIT_MS} ms (stopped)` : `${fmt.n(r.before)} ms`;
  out.push(
    `| ${r.name} | ${fmt.n(median(r.after))} ms (${fmt.n(Math.min(...r.after))}–${fmt.n(Math.max(...r.after))}) | ${before} |`,
  );
}
console.log(out.join("\n"));
