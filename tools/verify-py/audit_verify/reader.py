"""Reading a trail: JSONL text, parsed strictly (docs/FORMAT.md section 8)."""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any, Iterator, List, Optional, Tuple

FILE_PATTERN = re.compile(r"^audit(?:-\d{4}-\d{2}-\d{2})?(?:\.\d+)?\.jsonl$")
_MAX_DOUBLE = 1.7976931348623157e308


class _Strictness:
    def __init__(self) -> None:
        self.reasons: List[str] = []


def _walk_strings(value: Any, found: List[str]) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            found.append("a NUL character")
        if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            found.append("a lone surrogate")
    elif isinstance(value, list):
        for v in value:
            _walk_strings(v, found)
    elif isinstance(value, dict):
        for k, v in value.items():
            _walk_strings(k, found)
            _walk_strings(v, found)


def parse_line(raw: bytes) -> Tuple[Optional[Any], List[str]]:
    """Returns the value as a lenient reader sees it and the strict-parsing failures (section 8)."""
    reasons: List[str] = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        reasons.append("invalid UTF-8")
        text = raw.decode("utf-8", "replace")

    def pairs(items: List[Tuple[str, Any]]) -> dict:
        out: dict = {}
        for k, v in items:
            if k in out:
                reasons.append("a duplicate key %s" % json.dumps(k))
            out[k] = v  # the last one wins, as JSON.parse does
        return out

    def constant(name: str) -> float:
        reasons.append("a non-JSON number %s" % name)
        return float("nan") if name == "NaN" else float("inf") if name == "Infinity" else float("-inf")

    def number(s: str) -> float:
        v = float(s)
        if math.isinf(v):
            reasons.append("a non-finite number %s" % s[:40])
        return v

    def integer(s: str) -> Any:
        v = int(s)
        if abs(v) > _MAX_DOUBLE:
            reasons.append("a non-finite number %s" % s[:40])
            return float("inf") if v > 0 else float("-inf")
        return v

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=constant, parse_float=number, parse_int=integer)
    except ValueError as err:
        return None, ["not JSON: %s" % err]
    _walk_strings(value, reasons)
    return value, reasons


def _lines(path: str) -> Iterator[Tuple[str, int, bytes]]:
    with open(path, "rb") as f:
        data = f.read()
    parts = data.split(b"\n")
    # A last line without its newline was torn by a crash: not an event.
    complete = parts[:-1]
    for i, line in enumerate(complete, 1):
        if line.strip():
            yield path, i, line


def read_trail(path: str) -> Tuple[List[dict], List[dict]]:
    """The trail's events in store order, and `non-strict-json` findings.

    A file is read in its own order (an export is in store order); a JSONL store directory is
    every audit*.jsonl file merged by (time, id).
    """
    findings: List[dict] = []
    events: List[dict] = []
    if os.path.isdir(path):
        files = sorted(os.path.join(path, n) for n in os.listdir(path) if FILE_PATTERN.match(n))
    else:
        files = [path]
    for f in files:
        for name, lineno, raw in _lines(f):
            value, reasons = parse_line(raw)
            where = "%s line %d" % (os.path.basename(name), lineno)
            if not isinstance(value, dict):
                findings.append({"kind": "non-strict-json", "message": "%s is not an event: %s" % (where, "; ".join(reasons) or "not an object")})
                continue
            if reasons:
                eid = value.get("id") if isinstance(value.get("id"), str) else None
                f_ = {"kind": "non-strict-json", "message": "%s (event %s) is not strict JSON: %s" % (where, eid, "; ".join(sorted(set(reasons))))}
                if eid is not None:
                    f_["eventId"] = eid
                findings.append(f_)
            events.append(value)
    if os.path.isdir(path):
        events.sort(key=lambda e: (str(e.get("time", "")), str(e.get("id", ""))))
    return events, findings
