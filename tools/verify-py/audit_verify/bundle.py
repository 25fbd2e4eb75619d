"""Checking an evidence bundle offline (docs/FORMAT.md section 10)."""

from __future__ import annotations

import re
from typing import Any, List, Optional

from .canonical import chain_input, hash_event, key_id, utf8
from .merkle import leaf_hash, verify_inclusion
from .note import checkpoint_signed_by, load_public_key, raw_public_key, verifier_key

FORMAT = "audit-evidence/1"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def verify_bundle(bundle: Any, public_key: Any = None, key: Optional[Any] = None) -> dict:
    problems: List[dict] = []
    warnings: List[str] = []
    b = bundle if isinstance(bundle, dict) else {}
    run_id = b.get("runId") if isinstance(b.get("runId"), str) else ""
    entries = b.get("entries")

    def report() -> dict:
        return {"ok": not problems, "runId": run_id, "events": len(entries) if isinstance(entries, list) else 0, "problems": problems, "warnings": warnings}

    def problem(kind: str, message: str, event: Optional[str] = None) -> None:
        p = {"kind": kind}
        if event is not None:
            p["eventId"] = event
        p["message"] = message
        problems.append(p)

    pk = b.get("publicKey") if isinstance(b.get("publicKey"), dict) else {}
    if b.get("format") != FORMAT or not run_id or not isinstance(pk.get("pem"), str) or not isinstance(b.get("checkpoints"), list) or not isinstance(entries, list):
        problem("malformed", "not an evidence bundle (%s)" % FORMAT)
        return report()

    try:
        bundle_key = load_public_key(pk["pem"])
    except (ValueError, TypeError):
        bundle_key = None
    if public_key is not None:
        verify_key = public_key
        if bundle_key is None or raw_public_key(bundle_key) != raw_public_key(public_key):
            problem("key-mismatch", "the bundle's public key is not the trusted public key given")
    else:
        verify_key = bundle_key
        warnings.append("no trusted public key given: the bundle's own key was used, which shows the bundle is consistent but not who signed it")
    if bundle_key is None:
        problem("malformed", "publicKey.pem is not an Ed25519 public key")
    elif isinstance(pk.get("verifierKey"), str):
        name = pk["verifierKey"].split("+")[0]
        if verifier_key(name, bundle_key) != pk["verifierKey"]:
            problem("key-mismatch", "publicKey.verifierKey does not encode the same key as publicKey.pem")

    checkpoints = {}
    for cp in b["checkpoints"]:
        cp = cp if isinstance(cp, dict) else {}
        d = cp.get("data")
        if not isinstance(cp.get("eventId"), str) or not isinstance(d, dict) or not isinstance(d.get("chainId"), str) or not _int(d.get("seq")) or not isinstance(d.get("root"), str) or not HEX64.match(d["root"]):
            problem("malformed", "a checkpoint lacks eventId, chainId, seq or root")
            continue
        checkpoints[cp["eventId"]] = d
        if not isinstance(d.get("note"), str):
            problem("unsigned-checkpoint", "checkpoint %s carries no signed note" % cp["eventId"], cp["eventId"])
        elif verify_key is None or not checkpoint_signed_by(d, verify_key):
            problem("bad-signature", "checkpoint %s is not signed by the public key" % cp["eventId"], cp["eventId"])

    our_key_id = key_id(key) if key is not None else None
    unchecked = False
    for entry in entries:
        entry = entry if isinstance(entry, dict) else {}
        e = entry.get("event")
        c = e.get("chain") if isinstance(e, dict) else None
        proof = entry.get("proof")
        if (
            not isinstance(e, dict)
            or not isinstance(e.get("id"), str)
            or not isinstance(c, dict)
            or not isinstance(c.get("id"), str)
            or not _int(c.get("seq"))
            or not isinstance(entry.get("leaf"), str)
            or not _int(entry.get("index"))
            or not isinstance(entry.get("checkpoint"), str)
            or not isinstance(proof, list)
            or not all(isinstance(p, str) and HEX64.match(p) for p in proof)
        ):
            problem("malformed", "an entry lacks event (with chain), leaf, index, checkpoint or proof", e.get("id") if isinstance(e, dict) and isinstance(e.get("id"), str) else None)
            continue
        eid = e["id"]
        if e.get("runId") != run_id:
            problem("wrong-run", "event %s belongs to run %s, not %s" % (eid, e.get("runId"), run_id), eid)
        leaf = leaf_hash(utf8(chain_input(e)))
        if leaf.hex() != entry["leaf"]:
            problem("leaf-mismatch", "event %s: its leaf hash is not the one in the bundle" % eid, eid)
        d = checkpoints.get(entry["checkpoint"])
        if d is None or d["chainId"] != c["id"] or d["seq"] < c["seq"]:
            problem("missing-checkpoint", "event %s: checkpoint %s is not in the bundle, of another chain, or does not cover seq %d" % (eid, entry["checkpoint"], c["seq"]), eid)
            continue
        if d.get("alg") == "sha256" or (d.get("alg") == "hmac-sha256" and our_key_id is not None and our_key_id == d.get("keyId")):
            if hash_event(e, None if d.get("alg") == "sha256" else key) != c.get("hash"):
                problem("hash-mismatch", "event %s does not match its chain hash" % eid, eid)
        else:
            unchecked = True
        if entry["index"] != c["seq"] - 1 or not verify_inclusion(leaf, entry["index"], d["seq"], [bytes.fromhex(p) for p in proof], bytes.fromhex(d["root"])):
            problem("bad-proof", "event %s: its inclusion proof does not lead to the root of checkpoint %s" % (eid, entry["checkpoint"]), eid)
    if unchecked:
        warnings.append("keyed (HMAC-SHA-256) chain hashes were not checked without the key; the Merkle proofs were")
    return report()
