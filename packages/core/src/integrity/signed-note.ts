import { createHash, type KeyObject, sign, verify } from "node:crypto";

// C2SP signed notes (github.com/C2SP/C2SP, signed-note.md): a text body, a blank line, then one
// signature line per signer: "— <name> <base64(key id ‖ signature)>". For Ed25519 the key id is
// the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ 32-byte public key) and the signature covers
// the body bytes exactly (ending with its newline).

const DASH = "\u2014";

/** The raw 32-byte Ed25519 public key of a KeyObject. */
export function rawEd25519PublicKey(publicKey: KeyObject): Buffer {
  const der = publicKey.export({ format: "der", type: "spki" });
  return Buffer.from(der.subarray(der.length - 32));
}

/** The 4-byte key id of an Ed25519 signer name and public key. */
export function noteKeyId(name: string, publicKey: KeyObject): Buffer {
  return createHash("sha256")
    .update(name, "utf8")
    .update(Buffer.from("\n"))
    .update(Buffer.of(1))
    .update(rawEd25519PublicKey(publicKey))
    .digest()
    .subarray(0, 4);
}

/** The verifier key in the C2SP text form: `<name>+<hex key id>+<base64(0x01 ‖ public key)>`. */
export function noteVerifierKey(name: string, publicKey: KeyObject): string {
  const id = noteKeyId(name, publicKey).toString("hex");
  const key = Buffer.concat([Buffer.of(1), rawEd25519PublicKey(publicKey)]).toString("base64");
  return `${name}+${id}+${key}`;
}

/** Signs a note body (which must end with a newline) and returns the whole signed note. */
export function signNote(
  body: string,
  name: string,
  privateKey: KeyObject,
  publicKey: KeyObject,
): string {
  if (!body.endsWith("\n")) throw new Error("a note body ends with a newline");
  const signature = sign(null, Buffer.from(body, "utf8"), privateKey);
  const blob = Buffer.concat([noteKeyId(name, publicKey), signature]).toString("base64");
  return `${body}\n${DASH} ${name} ${blob}\n`;
}

/** A signed note split into its body and signature lines. */
export interface ParsedNote {
  body: string;
  signatures: { name: string; keyId: Buffer; signature: Buffer }[];
}

/** Splits a signed note; undefined when it is not one. */
export function parseNote(note: string): ParsedNote | undefined {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) return undefined;
  const body = note.slice(0, split + 1);
  const signatures: ParsedNote["signatures"] = [];
  for (const line of note.slice(split + 2, -1).split("\n")) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) return undefined;
    const blob = Buffer.from(m[2]!, "base64");
    if (blob.length < 5) return undefined;
    signatures.push({ name: m[1]!, keyId: blob.subarray(0, 4), signature: blob.subarray(4) });
  }
  return signatures.length > 0 ? { body, signatures } : undefined;
}

/** True when one of the note's signatures is a valid Ed25519 signature by `publicKey`. */
export function noteSignedBy(parsed: ParsedNote, publicKey: KeyObject): boolean {
  for (const s of parsed.signatures) {
    if (!s.keyId.equals(noteKeyId(s.name, publicKey))) continue;
    try {
      if (verify(null, Buffer.from(parsed.body, "utf8"), publicKey, s.signature)) return true;
    } catch {
      // Not a valid signature: try the next line.
    }
  }
  return false;
}
