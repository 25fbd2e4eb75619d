import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";

// Installs the packed @audit/core into fresh projects with npm and with pnpm, and checks that
// openStore finds an adapter package installed in the user's project. The adapter here is a
// stand-in named like a real one (it wraps MemoryStore): this test is about how core locates an
// adapter package under each package manager's node_modules layout, not about the adapter.

const coreDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function pnpmCommand(): { cmd: string; args: string[] } {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(execPath)) return { cmd: process.execPath, args: [execPath] };
  try {
    execFileSync("pnpm", ["--version"], { stdio: "ignore" });
    return { cmd: "pnpm", args: [] };
  } catch {
    return { cmd: "npx", args: ["--yes", "pnpm@10.34.9"] };
  }
}

// A user's shell, not this workspace's: no NODE_PATH or npm_* variables that the package manager
// running these tests sets, and which would let a program find packages it never installed.
const userEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => k !== "NODE_PATH" && !k.startsWith("npm_") && !k.startsWith("PNPM_"),
  ),
);

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: userEnv,
    timeout: 120_000,
  });
}

let work: string;
let coreTarball: string;
let adapterTarball: string;

beforeAll(() => {
  work = tempDir("audit-install-");
  const packs = join(work, "packs");
  mkdirSync(packs);
  run("npm", ["pack", "--silent", "--pack-destination", packs], coreDir);
  const adapter = join(work, "adapter");
  mkdirSync(adapter);
  writeFileSync(
    join(adapter, "package.json"),
    JSON.stringify({
      name: "@audit/jsonl",
      version: "0.0.0",
      type: "module",
      exports: { ".": { default: "./index.js" } },
      peerDependencies: { "@audit/core": "*" },
    }),
  );
  writeFileSync(
    join(adapter, "index.js"),
    `import { MemoryStore } from "@audit/core";
export function createStoreFromUrl(url) {
  const store = new MemoryStore();
  store.openedFrom = url;
  return store;
}
`,
  );
  run("npm", ["pack", "--silent", "--pack-destination", packs], adapter);
  const files = readdirSync(packs);
  coreTarball = join(packs, files.find((f) => f.startsWith("audit-core-"))!);
  adapterTarball = join(packs, files.find((f) => f.startsWith("audit-jsonl-"))!);
}, 120_000);

const program = `import { openStore, AdapterNotInstalledError } from "@audit/core";
const store = await openStore("jsonl:./logs");
console.log("opened", store.id, store.openedFrom);
try {
  await openStore("sqlite:./audit.db");
} catch (err) {
  console.log(err instanceof AdapterNotInstalledError ? "missing" : "other", err.message);
}
`;

function project(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({
      name,
      private: true,
      type: "module",
      dependencies: {
        "@audit/core": `file:${coreTarball}`,
        "@audit/jsonl": `file:${adapterTarball}`,
      },
    }),
  );
  writeFileSync(join(dir, "main.js"), program);
  return dir;
}

function check(output: string): void {
  expect(output).toContain("opened memory jsonl:./logs");
  expect(output).toContain('missing [audit] the "sqlite:" store needs @audit/sqlite');
  expect(output).toContain("npm install @audit/sqlite");
}

describe("adapter resolution from a user's project", () => {
  it("works with npm's flat node_modules", () => {
    const dir = project("with-npm");
    run("npm", ["install", "--no-audit", "--no-fund", "--silent"], dir);
    check(run(process.execPath, ["main.js"], dir));
  }, 180_000);

  // With the virtual store outside the project (as pnpm's global virtual store has it), walking up
  // from @audit/core's real folder never reaches the project's node_modules: only the look-up
  // from the user's project can find the adapter.
  for (const layout of ["default", "virtual store outside the project"]) {
    it(`works with pnpm's node_modules (${layout})`, () => {
      const dir = project(`with-pnpm-${layout === "default" ? "default" : "outside"}`);
      const pnpm = pnpmCommand();
      const extra =
        layout === "default" ? [] : [`--config.virtual-store-dir=${tempDir("audit-vstore-")}`];
      run(
        pnpm.cmd,
        [...pnpm.args, "install", "--ignore-workspace", "--reporter=silent", ...extra],
        dir,
      );
      if (extra.length > 0) {
        const real = realpathSync(join(dir, "node_modules", "@audit", "core"));
        expect(real.startsWith(dir)).toBe(false);
      }
      check(run(process.execPath, ["main.js"], dir));
      // Started from another directory, the main script's folder still leads to the project.
      const elsewhere = tempDir("audit-cwd-");
      check(run(process.execPath, [join(dir, "main.js")], elsewhere));
    }, 180_000);
  }
});
