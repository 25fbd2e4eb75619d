// pino writing records to a file the way its documentation recommends for speed
// (`pino.destination({ sync: false })`), until its buffer is flushed and fsynced once.
import { once } from "node:events";
import { fsyncSync } from "node:fs";
import pino from "pino";
import { turn } from "./context.js";

/** A pino logger on an asynchronous file destination, ready to write. */
export async function pinoToFile(file: string) {
  const dest = pino.destination({ dest: file, sync: false });
  await once(dest, "ready");
  const logger = pino({}, dest);
  return {
    /** Logs every record in bursts of 500 with a turn of the loop between, then makes them durable. */
    async write(records: readonly object[]): Promise<void> {
      for (let i = 0; i < records.length; i++) {
        logger.info(records[i]);
        if (i % 500 === 499) await turn();
      }
      await new Promise<void>((resolve, reject) =>
        dest.flush((e?: Error) => (e ? reject(e) : resolve())),
      );
      // sonic-boom keeps the descriptor it writes to; its types do not declare it.
      fsyncSync((dest as unknown as { fd: number }).fd);
    },
    end: () => dest.end(),
  };
}
