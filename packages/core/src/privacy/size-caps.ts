/**
 * The first `max` UTF-16 units of `text`, one fewer when the cut would fall between the two halves
 * of a surrogate pair (a lone surrogate is refused by some stores and turned into U+FFFD by JSON
 * readers).
 */
export function cutString(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return text.slice(0, cut);
}

/** `text` cut to `max` UTF-16 units with a marker saying how much was cut; see {@link cutString}. */
export function capString(text: string, max: number): string {
  if (text.length <= max) return text;
  const kept = cutString(text, max);
  return `${kept}…[truncated ${text.length - kept.length} chars]`;
}

/** The JSON size of a value in UTF-8 bytes. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}
