#!/usr/bin/env node
import { main } from "./cli.js";

// A reader that stops early (`audit query | head -1`) closes the pipe: that is the end of the
// output, not an error, so it ends quietly with success.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
