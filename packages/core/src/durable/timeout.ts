/**
 * Settles with `call()`'s result, or rejects with `onTimeout()` after `ms` — whichever comes first.
 * A call that never settles is left behind (nothing can cancel a promise); the caller treats it as
 * failed. The timer is unref'd so a hung call never keeps the process alive by itself.
 */
export async function withTimeout<T>(
  call: () => Promise<T> | T,
  ms: number,
  onTimeout: () => Error,
): Promise<T> {
  if (!Number.isFinite(ms)) return await call();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  const running = Promise.resolve().then(call);
  // A late rejection of the abandoned call must not surface as an unhandled rejection.
  running.catch(() => undefined);
  try {
    return await Promise.race([running, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms`; unref'd, so a pending delay never keeps the process alive. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });
}
