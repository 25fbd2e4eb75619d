"""Checkpoint notes: C2SP signed notes over the tlog-checkpoint body (docs/FORMAT.md section 6.3)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any, List, Optional, Tuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .canonical import canonical_json

DASH = "\u2014"


def load_public_key(pem: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (a private key PEM gives its public half)."""
    data = pem.encode("utf-8")
    try:
        key: Any = serialization.load_pem_public_key(data)
    except ValueError:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 key")
    return key


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def note_key_id(name: str, key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + b"\x01" + raw_public_key(key)).digest()[:4]


def verifier_key(name: str, key: Ed25519PublicKey) -> str:
    return "%s+%s+%s" % (
        name,
        note_key_id(name, key).hex(),
        base64.b64encode(b"\x01" + raw_public_key(key)).decode("ascii"),
    )


def note_body(data: dict) -> str:
    """The body a checkpoint's note must carry, built from its data."""
    anchor = "root" not in data or data.get("root") is None
    third = base64.b64encode(bytes.fromhex(data["hash"] if anchor else data["root"])).decode("ascii")
    body = "audit/%s/%s\n%s\n%s\n" % ("anchor" if anchor else "chain", data["chainId"], data["seq"], third)
    body += "head %s\nalg %s\n" % (data["hash"], data["alg"])
    if data.get("keyId") is not None:
        body += "keyid %s\n" % data["keyId"]
    if data.get("final") is True:
        body += "final\n"
    if data.get("reason") is not None:
        body += "reason %s\n" % data["reason"]
    return body


def parse_note(note: str) -> Optional[Tuple[str, List[Tuple[str, bytes, bytes]]]]:
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        return None
    body = note[: split + 1]
    sigs = []
    for line in note[split + 2 : -1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH or not parts[1]:
            return None
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except ValueError:
            return None
        if len(blob) < 5:
            return None
        sigs.append((parts[1], blob[:4], blob[4:]))
    return (body, sigs) if sigs else None


def _ed25519_ok(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def checkpoint_signed_by(data: dict, key: Ed25519PublicKey) -> bool:
    """Section 6.3: the note's body is the data's body and one signature line verifies."""
    note = data.get("note")
    if isinstance(note, str):
        parsed = parse_note(note)
        if parsed is None:
            return False
        body, sigs = parsed
        rest = {k: v for k, v in data.items() if k != "note"}
        try:
            if body != note_body(rest):
                return False
        except (KeyError, ValueError, TypeError):
            return False
        message = body.encode("utf-8")
        return any(kid == note_key_id(name, key) and _ed25519_ok(key, sig, message) for name, kid, sig in sigs)
    sig = data.get("signature")
    if not isinstance(sig, str):
        return False
    rest = {k: v for k, v in data.items() if k not in ("signature", "note")}
    try:
        raw = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
    except ValueError:
        return False
    return _ed25519_ok(key, raw, canonical_json(rest).encode("utf-8"))
