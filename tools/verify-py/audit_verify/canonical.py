"""Canonical JSON (docs/FORMAT.md section 3), the chain input and hash (section 4)."""

from __future__ import annotations

import hashlib
import hmac
import math
from decimal import Decimal
from typing import Any, Optional

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _string(s: str) -> str:
    out = ['"']
    for c in s:
        o = ord(c)
        esc = _ESCAPES.get(c)
        if esc is not None:
            out.append(esc)
        elif o < 0x20 or 0xD800 <= o <= 0xDFFF:
            # Control characters and lone surrogates: \u with lowercase hex.
            out.append("\\u%04x" % o)
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def format_number(x: float) -> str:
    """ECMAScript Number::toString, as JSON.stringify prints a number (non-finite: null)."""
    if isinstance(x, int) and not isinstance(x, bool):
        if abs(x) < 2**53:
            return str(x)
        try:
            x = float(x)
        except OverflowError:
            return "null"
    if math.isnan(x) or math.isinf(x):
        return "null"
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 2**53:
        return str(int(x))  # exact, and already the shortest digits
    sign = "-" if x < 0 else ""
    # repr gives the shortest digits that round-trip to the same double.
    _, digit_tuple, exp = Decimal(repr(abs(x))).as_tuple()
    raw = "".join(str(d) for d in digit_tuple)
    digits = raw.rstrip("0")
    exp += len(raw) - len(digits)
    k = len(digits)
    n = exp + k
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        body = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + body


def _key_order(k: str) -> bytes:
    # UTF-16 code units compare like the big-endian bytes of the UTF-16 encoding.
    return k.encode("utf-16-be", "surrogatepass")


def canonical_json(value: Any) -> str:
    """The canonical JSON text of a parsed JSON value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value.keys(), key=_key_order)
        return "{" + ",".join(_string(k) + ":" + canonical_json(value[k]) for k in keys) + "}"
    raise TypeError("not a JSON value: %r" % (value,))


def utf8(text: str) -> bytes:
    # Lone surrogates never reach here escaped-less (they are written as \\udxxx), but be total.
    return text.encode("utf-8", "surrogatepass")


def chain_input(event: dict) -> str:
    """The event's canonical JSON with `chain` holding only id, seq and prev."""
    e = dict(event)
    chain = e.get("chain")
    if isinstance(chain, dict):
        e["chain"] = {k: chain[k] for k in ("id", "seq", "prev") if k in chain}
    return canonical_json(e)


def key_bytes(key: Any) -> bytes:
    """A text key is its UTF-8 bytes; bytes are used as they are."""
    return key if isinstance(key, (bytes, bytearray)) else str(key).encode("utf-8")


def hash_input(text: str, key: Optional[Any] = None) -> str:
    data = utf8(text)
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key_bytes(key), data, hashlib.sha256).hexdigest()


def hash_event(event: dict, key: Optional[Any] = None) -> str:
    return hash_input(chain_input(event), key)


def key_id(key: Any) -> str:
    return hmac.new(key_bytes(key), b"audit key id", hashlib.sha256).hexdigest()[:16]


def storable(s: str) -> str:
    """Section 2: NUL and lone surrogates become U+FFFD."""
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        o = ord(c)
        if o == 0:
            out.append("\ufffd")
        elif 0xD800 <= o <= 0xDBFF and i + 1 < len(s) and 0xDC00 <= ord(s[i + 1]) <= 0xDFFF:
            out.append(c + s[i + 1])  # a pair split by the JSON reader: keep it
            i += 1
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def resolution_id(approval_id: str) -> str:
    """Section 7: the UUIDv8 of an approval's one resolution."""
    d = bytearray(hashlib.sha256(("audit:approval.resolve:" + approval_id).encode("utf-8")).digest()[:16])
    d[6] = (d[6] & 0x0F) | 0x80
    d[8] = (d[8] & 0x3F) | 0x80
    h = d.hex()
    return "%s-%s-%s-%s-%s" % (h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
