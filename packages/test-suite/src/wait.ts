/**
 * Polls `done` until it holds, or throws once `timeoutMs` has passed, saying what did not happen.
 * Polling stores deliver late by design: the suite waits for a condition with a deadline, never
 * for a fixed time.
 */
export async function waitUntil(
  done: () => boolean | Promise<boolean>,
  what: () => string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; !(await done()); delay = Math.min(delay * 2, 100)) {
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}
