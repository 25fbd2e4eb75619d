#!/usr/bin/env python3
"""Tampers with a copy of a JSONL store directory, as an attacker with write access would.

Usage: tamper.py DIR ACTION
  edit-data       change a payload value of a tool.end event (hash left as it was)
  delete-line     delete the line of the second event of the first chain's run.start … (a middle event)
  drop-tail       delete the last line of the trail (the final checkpoint)
  rewrite-resolve rewrite the approval's outcome and recompute that event's own hash
  duplicate-key   repeat a key in the approval.resolve line (the last value is the one hashed)
  bad-note        flip a bit of a checkpoint's note signature and recompute its hash
Prints the id of the event it changed.
"""

import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from audit_verify import hash_event  # noqa: E402
from audit_verify.reader import FILE_PATTERN  # noqa: E402


def files(d):
    return sorted(os.path.join(d, n) for n in os.listdir(d) if FILE_PATTERN.match(n))


def rewrite(d, match, change):
    for path in files(d):
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for i, line in enumerate(lines):
            if not line:
                continue
            e = json.loads(line)
            if match(e):
                out = change(e, line)
                if out is None:
                    del lines[i]
                else:
                    lines[i] = out
                with open(path, "w", encoding="utf-8") as f:
                    f.write("\n".join(lines))
                return e["id"]
    raise SystemExit("nothing to tamper with")


def main(d, action):
    if action == "edit-data":
        def change(e, _):
            e["data"]["durationMs"] = e["data"].get("durationMs", 0) + 1000
            return json.dumps(e, ensure_ascii=False)
        return rewrite(d, lambda e: e["type"] == "tool.end", change)
    if action == "delete-line":
        return rewrite(d, lambda e: e["type"] == "llm.end", lambda e, l: None)
    if action == "drop-tail":
        last = None
        for path in files(d):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        e = json.loads(line)
                        if last is None or (e["time"], e["id"]) >= (last["time"], last["id"]):
                            last = e
        return rewrite(d, lambda e: e["id"] == last["id"], lambda e, l: None)
    if action == "rewrite-resolve":
        def change(e, _):
            e["data"]["outcome"] = "deny"
            e["chain"]["hash"] = hash_event(e)
            return json.dumps(e, ensure_ascii=False)
        return rewrite(d, lambda e: e["type"] == "approval.resolve", change)
    if action == "duplicate-key":
        def change(e, line):
            return line.replace('"outcome":"approve"', '"outcome":"deny","outcome":"approve"', 1)
        return rewrite(d, lambda e: e["type"] == "approval.resolve", change)
    if action == "bad-note":
        def change(e, _):
            note = e["data"]["note"]
            head, blob = note[:-1].rsplit(" ", 1)
            raw = bytearray(base64.b64decode(blob))
            raw[-1] ^= 1
            e["data"]["note"] = head + " " + base64.b64encode(bytes(raw)).decode() + "\n"
            e["chain"]["hash"] = hash_event(e, os.environ.get("AUDIT_CHAIN_KEY") or None)
            return json.dumps(e, ensure_ascii=False)
        return rewrite(d, lambda e: e["type"] == "audit.checkpoint" and "note" in e["data"], change)
    raise SystemExit("unknown action " + action)


if __name__ == "__main__":
    print(main(sys.argv[1], sys.argv[2]))
