#!/usr/bin/env python3
"""Compares two verifier reports (JSON files): `audit verify -o json` and `verify.py --json`.

Usage: agree.py NAME TS_REPORT TS_EXIT PY_REPORT PY_EXIT [EXPECTED_KIND …]

They agree when they name the same (kind, eventId) problems, leaving out the kinds listed in
docs/test-vectors.json "pendingFindings" (which `audit verify` does not report yet), and their exit
codes say the same once those kinds are left out. Every EXPECTED_KIND must be among the problems.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "..", "..", "docs", "test-vectors.json"), encoding="utf-8") as f:
    PENDING = set(json.load(f)["pendingFindings"])


def problems(path):
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    return {(p["kind"], p.get("eventId") or "") for p in report["problems"]}


def main(argv):
    name, ts_path, ts_exit, py_path, py_exit, *expected = argv
    ts, py = problems(ts_path), problems(py_path)
    ts_known = {p for p in ts if p[0] not in PENDING}
    py_known = {p for p in py if p[0] not in PENDING}
    errors = []
    if ts_known != py_known:
        errors.append("different problems: audit verify only %s; verify-py only %s" % (sorted(ts_known - py_known), sorted(py_known - ts_known)))
    # Exit 1 means "problems found"; with pending kinds left out both must say the same.
    if (ts_exit == "1") != bool(ts) or (py_exit == "1") != bool(py):
        errors.append("an exit code does not match its report (audit verify %s, verify-py %s)" % (ts_exit, py_exit))
    if bool(ts_known) != bool(py_known):
        errors.append("one verifier passes the trail, the other does not")
    kinds = {k for k, _ in py}
    missing = [k for k in expected if k not in kinds]
    if missing:
        errors.append("expected findings not reported: %s" % missing)
    if errors:
        print("DISAGREE %s: %s" % (name, "; ".join(errors)))
        return 1
    pending = sorted({k for k, _ in py - ts if k in PENDING})
    print("agree %-28s %d problems%s" % (name, len(py_known), " (+ %s, not in audit verify yet)" % ", ".join(pending) if pending else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
