import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * A Server-Sent Events response: headers, `id`/`event`/`data` frames, a comment every
 * `heartbeatMs` so proxies keep the connection open, and one `closed` signal however it ends.
 */
export class SseStream {
  readonly #res: ServerResponse;
  readonly #heartbeat: NodeJS.Timeout;
  #closed = false;
  readonly #onClose: (() => void)[] = [];

  constructor(req: IncomingMessage, res: ServerResponse, options: { heartbeatMs?: number } = {}) {
    this.#res = res;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write("retry: 2000\n\n");
    this.#heartbeat = setInterval(() => this.comment("keep-alive"), options.heartbeatMs ?? 15_000);
    this.#heartbeat.unref();
    const end = () => this.#finish();
    req.once("close", end);
    res.once("close", end);
  }

  /** True once the client went away or {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `fn` when the stream ends (immediately if it already has). */
  onClose(fn: () => void): void {
    if (this.#closed) fn();
    else this.#onClose.push(fn);
  }

  /** Sends one frame. `data` is sent as-is, one `data:` line per line of it. */
  send(frame: { event?: string; id?: string; data: string }): void {
    if (this.#closed) return;
    let out = "";
    if (frame.id !== undefined) out += `id: ${frame.id.replace(/[\r\n]/g, "")}\n`;
    if (frame.event !== undefined) out += `event: ${frame.event.replace(/[\r\n]/g, "")}\n`;
    for (const line of frame.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
    this.#res.write(`${out}\n`);
  }

  /** Sends a comment line (ignored by clients). */
  comment(text: string): void {
    if (!this.#closed) this.#res.write(`: ${text.replace(/[\r\n]/g, " ")}\n\n`);
  }

  /** Ends the response. */
  close(): void {
    if (!this.#closed) this.#res.end();
    this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const fn of this.#onClose.splice(0)) fn();
  }
}
