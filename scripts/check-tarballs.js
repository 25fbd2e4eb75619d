// Checks every published package as a user receives it: the release metadata of its package.json,
// the contents of the tarball `pnpm pack` makes (workspace: ranges turned into versions, as
// publishing does), and that npm installs the tarballs together in a fresh project, where each
// package imports, the SQLite backend stores and verifies an event, and the `audit` command runs —
// on the Node.js running this script and on Node.js 22.
//
// Kept fast: the packs run two at a time, npm prefers its cache, and npm skips install scripts;
// the one native addon, better-sqlite3, is pinned to the workspace's version and takes the
// workspace's build for this Node.js (and the Node 22 build of scripts/node22.js), so nothing is
// compiled here.
import { execFile, execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ensureNode22, ensureSqliteAddon, node22Env } from "./node22.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);

// A user's shell: none of the variables the package manager running this script sets.
const userEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => k !== "NODE_PATH" && !k.startsWith("npm_") && !k.startsWith("PNPM_"),
  ),
);

/** The packages that are published: every packages/* that is not private. */
function publishedPackages() {
  return readdirSync(join(root, "packages"))
    .map((name) => ({ name, dir: join(root, "packages", name) }))
    .filter(({ dir }) => existsSync(join(dir, "package.json")))
    .map((p) => ({ ...p, manifest: JSON.parse(readFileSync(join(p.dir, "package.json"), "utf8")) }))
    .filter(({ manifest }) => !manifest.private);
}

/** What a published package.json must carry; returns one line per problem. */
export function metadataProblems({ name, dir, manifest: m }, repositoryUrl) {
  const problems = [];
  const need = (ok, what) => ok || problems.push(`${m.name ?? name}: ${what}`);
  need(m.license === "MIT", 'license must be "MIT"');
  need(existsSync(join(dir, "LICENSE")), "no LICENSE file");
  need(m.files?.includes("LICENSE"), 'files must list "LICENSE"');
  need(m.files?.includes("dist"), 'files must list "dist"');
  need(m.publishConfig?.access === "public", "publishConfig.access must be public");
  need(m.publishConfig?.provenance === true, "publishConfig.provenance must be true");
  need(m.repository?.type === "git", 'repository.type must be "git"');
  need(m.repository?.url === repositoryUrl, `repository.url must be ${repositoryUrl}`);
  need(
    m.repository?.directory === `packages/${name}`,
    `repository.directory must be packages/${name}`,
  );
  need(typeof m.homepage === "string" && m.homepage.length > 0, "no homepage");
  need(typeof m.bugs?.url === "string" && m.bugs.url.length > 0, "no bugs.url");
  need(typeof m.description === "string" && m.description.length > 0, "no description");
  need(typeof m.engines?.node === "string", "no engines.node");
  for (const target of Object.values(m.bin ?? {})) {
    need(existsSync(join(dir, target)), `bin ${target} is not in the repository`);
  }
  return problems;
}

/** Runs `fn` over `items`, `width` at a time. */
async function pool(items, width, fn) {
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}

function pnpmCommand() {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: set by pnpm when it runs this script, never by turbo
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(execPath)) return [process.execPath, [execPath]];
  return ["npx", ["--yes", "pnpm@10.34.9"]];
}

/** Packs one package and returns its tarball's path. */
async function pack(pkg, destination) {
  const [cmd, args] = pnpmCommand();
  const before = new Set(readdirSync(destination));
  await run(cmd, [...args, "pack", "--pack-destination", destination], {
    cwd: pkg.dir,
    env: userEnv,
  });
  const made = readdirSync(destination).filter((f) => !before.has(f) && f.endsWith(".tgz"));
  const tarball = made.find((f) =>
    f.startsWith(`${pkg.manifest.name.replace("@", "").replace("/", "-")}-`),
  );
  if (!tarball) throw new Error(`${pkg.manifest.name}: pnpm pack made no tarball`);
  return join(destination, tarball);
}

/** What a tarball must and must not contain; returns one line per problem. */
function tarballProblems(pkg, tarball) {
  const entries = new Set(
    execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map((e) => e.replace(/^package\//, "")),
  );
  const problems = [];
  const name = pkg.manifest.name;
  for (const file of ["package.json", "LICENSE", "README.md", "dist/index.js", "dist/index.d.ts"]) {
    if (!entries.has(file)) problems.push(`${name}: the tarball has no ${file}`);
  }
  for (const target of Object.values(pkg.manifest.bin ?? {})) {
    if (!entries.has(target.replace(/^\.\//, "")))
      problems.push(`${name}: the tarball has no ${target}`);
  }
  for (const entry of entries) {
    if (/^(src|test)\//.test(entry)) problems.push(`${name}: the tarball ships ${entry}`);
  }
  const packed = JSON.parse(
    execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" }),
  );
  for (const field of ["dependencies", "peerDependencies"]) {
    for (const [dep, range] of Object.entries(packed[field] ?? {})) {
      if (String(range).startsWith("workspace:")) {
        problems.push(`${name}: ${field}.${dep} is still ${range} in the tarball`);
      }
    }
  }
  return problems;
}

// The program the fresh project runs: every package imports and has exports; SQLite records and
// verifies a run (the native addon loads); the `audit` command answers.
function checkProgram(names) {
  return `import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
const names = ${JSON.stringify(names)};
for (const name of names) {
  const m = await import(name);
  if (Object.keys(m).length === 0) throw new Error(name + " has no exports");
}
const { createAuditor, verifyChain } = await import("@audit/core");
const file = "./check-" + process.versions.node + ".db";
rmSync(file, { force: true });
const audit = await createAuditor({ store: "sqlite:" + file, spool: false });
await audit.withRun({ agent: "check" }, async (run) => run.tool("lookup", { id: 1 }, () => "ok"));
await audit.flush();
const report = await verifyChain(audit.store);
const count = await audit.store.count();
await audit.close();
if (!report.ok || count !== 4) throw new Error("sqlite: " + count + " events, ok " + report.ok);
execFileSync(process.execPath, ["node_modules/.bin/audit", "verify", "--store", "sqlite:" + file]);
console.log("imported " + names.length + " packages on Node " + process.versions.node);
`;
}

async function main() {
  const started = Date.now();
  const packages = publishedPackages();
  const core = packages.find((p) => p.name === "core");
  const repositoryUrl = core?.manifest.repository?.url;
  const problems = packages.flatMap((p) => metadataProblems(p, repositoryUrl));

  const work = mkdtempSync(join(tmpdir(), "audit-tarballs-"));
  try {
    const packs = join(work, "packs");
    mkdirSync(packs);
    const tarballs = await pool(packages, 2, (p) => pack(p, packs));
    for (const [i, p] of packages.entries()) problems.push(...tarballProblems(p, tarballs[i]));
    if (problems.length > 0) throw new Error(`package problems:\n  ${problems.join("\n  ")}`);

    // better-sqlite3 pinned to the workspace's version, whose builds are at hand (see the top).
    const require = createRequire(join(root, "packages", "sqlite", "package.json"));
    const sqliteHome = dirname(require.resolve("better-sqlite3/package.json"));
    const sqliteVersion = JSON.parse(
      readFileSync(join(sqliteHome, "package.json"), "utf8"),
    ).version;

    const project = join(work, "project");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({
        name: "tarball-check",
        private: true,
        type: "module",
        overrides: { "better-sqlite3": sqliteVersion },
      }),
    );
    await run(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        "--ignore-scripts",
        "--loglevel=error",
        ...tarballs,
      ],
      { cwd: project, env: userEnv, maxBuffer: 64 * 1024 * 1024 },
    );
    const addon = join("build", "Release", "better_sqlite3.node");
    mkdirSync(join(project, "node_modules", "better-sqlite3", "build", "Release"), {
      recursive: true,
    });
    copyFileSync(join(sqliteHome, addon), join(project, "node_modules", "better-sqlite3", addon));
    writeFileSync(join(project, "check.js"), checkProgram(packages.map((p) => p.manifest.name)));

    const node20 = await run(process.execPath, ["check.js"], { cwd: project, env: userEnv });
    process.stdout.write(`tarballs: ${node20.stdout}`);
    const node22 = ensureNode22();
    const env22 = { ...node22Env(ensureSqliteAddon(node22)) };
    for (const k of Object.keys(env22))
      if (k.startsWith("npm_") || k === "NODE_PATH") delete env22[k];
    const out22 = await run(node22.bin, ["check.js"], { cwd: project, env: env22 });
    process.stdout.write(`tarballs: ${out22.stdout}`);
    console.log(
      `tarballs: ${packages.length} packages packed, installed with npm and imported in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`tarballs: ${err.stderr || err.message}`);
    process.exit(1);
  });
}
