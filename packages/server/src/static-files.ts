import { readFileSync } from "node:fs";

const TYPES: Record<string, string> = {
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
};

/**
 * The script and stylesheet of the pages, read once. They sit in `static/` beside this module
 * (the build copies them next to the bundle).
 */
export function loadStaticFiles(): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const [name, type] of Object.entries(TYPES))
    files.set(`/static/${name}`, {
      type,
      body: readFileSync(new URL(`./static/${name}`, import.meta.url)),
    });
  return files;
}
