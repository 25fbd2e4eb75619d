"""Command line: python3 -m audit_verify trail|bundle … (exit 0 OK, 1 findings, 2 usage)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional

from .bundle import verify_bundle
from .chain import verify_trail
from .note import load_public_key
from .reader import read_trail


def _print_findings(report: dict, as_json: bool, what: str) -> None:
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    print("checked %d events%s" % (report["events"], what))
    for p in report["problems"]:
        print("PROBLEM %s%s: %s" % (p["kind"], " [%s]" % p["eventId"] if p.get("eventId") else "", p["message"]))
    for w in report["warnings"]:
        print("warning %s" % (w if isinstance(w, str) else "%s: %s" % (w["kind"], w["message"])))
    print("OK" if report["ok"] else "FAILED: %d problems" % len(report["problems"]))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="audit_verify", description="Verify an @audit trail (JSONL export or JSONL store directory) or an evidence bundle.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("trail", help="verify a trail")
    t.add_argument("path", help="a JSONL export (audit query -o jsonl --order asc) or a JSONL store directory")
    t.add_argument("--key", help="the chains' HMAC key (default: AUDIT_CHAIN_KEY); its UTF-8 bytes are the key")
    t.add_argument("--public-key", help="Ed25519 public key (PEM file) to check checkpoint signatures")
    t.add_argument("--witness", help="checkpoints kept by a witness (JSONL file or directory)")
    t.add_argument("--require-closed", action="store_true", help="a chain without its final checkpoint is a problem")
    t.add_argument("--json", action="store_true", help="print the report as JSON")
    b = sub.add_parser("bundle", help="verify an evidence bundle")
    b.add_argument("path")
    b.add_argument("--public-key", help="the Ed25519 public key you trust (PEM file)")
    b.add_argument("--key", help="HMAC key of keyed chains (default: AUDIT_CHAIN_KEY)")
    b.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    try:
        public_key = None
        if args.public_key:
            with open(args.public_key, "r", encoding="utf-8") as f:
                public_key = load_public_key(f.read())
        key = args.key if args.key is not None else os.environ.get("AUDIT_CHAIN_KEY") or None
        if args.command == "trail":
            if not os.path.exists(args.path):
                raise OSError("no such file or directory: %s" % args.path)
            events, strict = read_trail(args.path)
            witness = read_trail(args.witness)[0] if args.witness else []
            report = verify_trail(events, key=key, public_key=public_key, witness=witness, require_closed=args.require_closed)
            report["problems"] = strict + report["problems"]
            report["ok"] = not report["problems"]
            _print_findings(report, args.json, " in %d chains" % len(report["chains"]))
        else:
            with open(args.path, "rb") as f:
                raw = f.read()
            try:
                bundle = json.loads(raw.decode("utf-8"))
            except ValueError:
                bundle = None
            report = verify_bundle(bundle, public_key=public_key, key=key)
            _print_findings(report, args.json, " of run %s" % (report["runId"] or "(unknown)"))
    except (OSError, ValueError) as err:
        print("audit_verify: %s" % err, file=sys.stderr)
        return 2
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
