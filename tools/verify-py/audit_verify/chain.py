"""Verifying a trail (docs/FORMAT.md section 9)."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

from .canonical import chain_input, hash_event, key_id, resolution_id, utf8
from .merkle import leaf_hash, merkle_root
from .note import checkpoint_signed_by

PENDING_LIMIT = 10_000


def _valid_chain(c: Any) -> bool:
    return (
        isinstance(c, dict)
        and isinstance(c.get("id"), str)
        and isinstance(c.get("seq"), int)
        and not isinstance(c.get("seq"), bool)
        and c["seq"] >= 1
        and isinstance(c.get("prev"), str)
        and isinstance(c.get("hash"), str)
    )


def _data(e: dict) -> dict:
    d = e.get("data")
    return d if isinstance(d, dict) else {}


class _Chain:
    def __init__(self, cid: str, anchor: Optional[dict]) -> None:
        self.id = cid
        self.count = 0
        self.bad = 0
        self.start = anchor["seq"] + 1 if anchor else 1
        self.next = self.start
        self.last_hash = anchor["hash"] if anchor else ""
        self.last: Optional[dict] = None
        self.rival: Optional[dict] = None
        self.pending: Dict[int, dict] = {}
        self.max_seq = 0
        self.max_seq_event = ""
        self.link_errors = 0
        self.mismatches: List[dict] = []


def verify_trail(
    events: List[dict],
    key: Optional[Any] = None,
    public_key: Any = None,
    witness: Iterable[dict] = (),
    require_closed: bool = False,
) -> dict:
    problems: List[dict] = []
    warnings: List[dict] = []
    our_key_id = key_id(key) if key is not None else None

    def finding(kind: str, message: str, chain: Optional[str] = None, seq: Optional[int] = None, event: Optional[str] = None) -> dict:
        f: dict = {"kind": kind}
        if chain is not None:
            f["chainId"] = chain
        if seq is not None:
            f["seq"] = seq
        if event is not None:
            f["eventId"] = event
        f["message"] = message
        return f

    # Pass 1: checkpoints, the witness's first.
    facts: Dict[str, dict] = {}
    anchors: Dict[str, dict] = {}
    claims: List[dict] = []
    witness_claims: Dict[tuple, dict] = {}
    unchecked = False
    witness = list(witness)
    for source, cp in [("witness", e) for e in witness] + [("store", e) for e in events]:
        if cp.get("type") != "audit.checkpoint":
            continue
        d = _data(cp)
        c = cp.get("chain") if isinstance(cp.get("chain"), dict) else {}
        signed = "note" in d or "signature" in d
        if public_key is not None:
            if not signed:
                problems.append(finding("unsigned-checkpoint", "%s checkpoint %s is not signed" % (source, cp.get("id")), c.get("id", d.get("chainId")), c.get("seq"), cp.get("id")))
            elif not checkpoint_signed_by(d, public_key):
                problems.append(finding("bad-signature", "%s checkpoint %s is not signed by the public key" % (source, cp.get("id")), c.get("id", d.get("chainId")), c.get("seq"), cp.get("id")))
        elif signed:
            unchecked = True
        if d.get("reason") == "prune":
            a = anchors.get(d.get("chainId"))
            if a is None or d.get("seq", 0) > a["seq"]:
                anchors[d.get("chainId")] = {"seq": d.get("seq"), "hash": d.get("hash")}
            continue
        claim = {"chainId": d.get("chainId"), "seq": d.get("seq"), "hash": d.get("hash"), "eventId": cp.get("id"), "source": source}
        claims.append(claim)
        if source == "witness":
            witness_claims[(claim["chainId"], claim["seq"])] = claim
        if source == "store" and _valid_chain(c) and d.get("chainId") == c["id"]:
            f = facts.setdefault(c["id"], {})
            if d.get("alg"):
                f["alg"] = d["alg"]
            if d.get("keyId") is not None:
                f["keyId"] = d["keyId"]
            if d.get("final") is True:
                f["finalSeq"] = c["seq"]
    if unchecked:
        warnings.append(finding("unsigned-checkpoint", "checkpoints are signed but no public key was given, so signatures were not checked"))

    # Pass 2: every event in store order.
    chains: Dict[str, _Chain] = {}
    by_seq: Dict[str, Dict[int, List[dict]]] = {}

    def duplicate(s: _Chain, l: dict) -> None:
        problems.append(finding("duplicate", "chain %s seq %d: event %s claims a seq another event holds: an inserted event" % (s.id, l["seq"], l["eventId"]), s.id, l["seq"], l["eventId"]))

    def accept(s: _Chain, l: dict, after_gap: bool) -> None:
        if not after_gap and l["prev"] != s.last_hash:
            if s.rival is not None and l["prev"] == s.rival["hash"] and s.last is not None:
                duplicate(s, s.last)
                s.rival = None
            else:
                s.link_errors += 1
                problems.append(finding("broken-link", "chain %s seq %d (event %s): prev is not the hash of the link before it" % (s.id, l["seq"], l["eventId"]), s.id, l["seq"], l["eventId"]))
        if s.rival is not None:
            duplicate(s, s.rival)
            s.rival = None
        if s.last is not None and l["time"] < s.last["time"]:
            problems.append(finding("reordered", "chain %s: seq %d (event %s) is stored after seq %d (event %s) but is older: a time was changed" % (s.id, l["seq"], l["eventId"], s.last["seq"], s.last["eventId"]), s.id, l["seq"], l["eventId"]))
        s.next = l["seq"] + 1
        s.last_hash = l["hash"]
        s.last = l

    def drain(s: _Chain) -> None:
        while s.next in s.pending:
            accept(s, s.pending.pop(s.next), False)

    def skip_gap(s: _Chain) -> None:
        m = min(s.pending)
        p = s.pending.pop(m)
        problems.append(finding("gap", "chain %s: seq %d..%d missing (deleted) before seq %d (event %s)" % (s.id, s.next, m - 1, m, p["eventId"]), s.id, s.next, p["eventId"]))
        accept(s, p, True)
        drain(s)

    for e in events:
        c = e.get("chain")
        eid = e.get("id")
        if not _valid_chain(c):
            problems.append(finding("unchained", "event %s (%s) carries no valid chain link" % (eid, e.get("type")), event=eid))
            continue
        cid, seq = c["id"], c["seq"]
        s = chains.get(cid)
        if s is None:
            s = chains[cid] = _Chain(cid, anchors.get(cid))
        s.count += 1
        by_seq.setdefault(cid, {}).setdefault(seq, []).append(e)
        l = {"seq": seq, "prev": c["prev"], "hash": c["hash"], "eventId": eid, "time": str(e.get("time", ""))}
        if hash_event(e, key) != c["hash"]:
            s.bad += 1
            s.mismatches.append(finding("hash-mismatch", "chain %s seq %d: event %s does not match its hash: its content was modified" % (cid, seq, eid), cid, seq, eid))
        w = witness_claims.get((cid, seq))
        if w is not None and w["hash"] != c["hash"]:
            problems.append(finding("checkpoint-mismatch", "witness checkpoint %s names another hash for chain %s seq %d than event %s has" % (w["eventId"], cid, seq, eid), cid, seq, eid))
        if e.get("type") == "audit.checkpoint":
            d = _data(e)
            if d.get("reason") != "prune" and d.get("chainId") == cid and (d.get("seq") != seq - 1 or d.get("hash") != c["prev"]):
                problems.append(finding("checkpoint-mismatch", "chain %s seq %d: checkpoint %s names seq %s, not the link before it" % (cid, seq, eid, d.get("seq")), cid, seq, eid))
        final = facts.get(cid, {}).get("finalSeq")
        if final is not None and seq > final:
            problems.append(finding("after-final", "chain %s seq %d: event %s comes after the chain's final checkpoint (seq %d)" % (cid, seq, eid, final), cid, seq, eid))
        if seq > s.max_seq:
            s.max_seq, s.max_seq_event = seq, eid
        if seq == s.next:
            accept(s, l, False)
            drain(s)
        elif seq < s.next:
            if seq == s.next - 1 and s.rival is None and seq >= s.start:
                s.rival = l
            else:
                duplicate(s, l)
        elif seq in s.pending:
            duplicate(s, l)
        else:
            s.pending[seq] = l
            if len(s.pending) > PENDING_LIMIT:
                skip_gap(s)

    summaries = []
    for s in chains.values():
        while s.pending:
            skip_gap(s)
        if s.rival is not None:
            duplicate(s, s.rival)
        f = facts.get(s.id, {})
        wrong = None
        if f.get("keyId") is not None and f["keyId"] != our_key_id:
            wrong = "chain %s is keyed (key id %s); %s" % (s.id, f["keyId"], "pass its key" if our_key_id is None else "the given key has id %s" % our_key_id)
        elif f.get("alg") == "sha256" and our_key_id is not None:
            wrong = "chain %s is not keyed (plain SHA-256); verify it without a key" % s.id
        elif s.bad == s.count and s.count >= 2 and s.link_errors == 0:
            wrong = "none of the %d hashes of chain %s verify while its links hold: another key (or with / without one)" % (s.count, s.id)
        if wrong is not None and s.bad > 0:
            problems.append(finding("wrong-key", wrong, s.id))
        else:
            problems.extend(s.mismatches)
        closed = f.get("finalSeq") is not None
        if not closed:
            u = finding("unclosed", "chain %s has no final checkpoint after seq %d (event %s)" % (s.id, s.max_seq, s.max_seq_event), s.id, s.max_seq, s.max_seq_event)
            (problems if require_closed else warnings).append(u)
        summary = {"id": s.id, "events": s.count, "firstSeq": s.start, "lastSeq": s.max_seq, "closed": closed}
        if f.get("alg"):
            summary["alg"] = f["alg"]
        summaries.append(summary)

    for cl in claims:
        a = anchors.get(cl["chainId"])
        if a is not None and isinstance(cl["seq"], int) and a["seq"] >= cl["seq"]:
            continue
        s = chains.get(cl["chainId"])
        if s is None or (isinstance(cl["seq"], int) and cl["seq"] > s.max_seq):
            problems.append(finding("truncated", "%s checkpoint %s names chain %s up to seq %s, but the store %s" % (cl["source"], cl["eventId"], cl["chainId"], cl["seq"], "holds none of that chain" if s is None else "ends at seq %d" % s.max_seq), cl["chainId"], cl["seq"], cl["eventId"]))

    # Pass 3: roots.
    seen_roots = set()
    for cp in witness + events:
        if cp.get("type") != "audit.checkpoint":
            continue
        d = _data(cp)
        root, cid, n = d.get("root"), d.get("chainId"), d.get("seq")
        if d.get("reason") == "prune" or not isinstance(root, str) or not isinstance(n, int) or cp.get("id") in seen_roots:
            continue
        held = by_seq.get(cid, {})
        if not all(len(held.get(i, [])) == 1 for i in range(1, n + 1)):
            continue
        seen_roots.add(cp.get("id"))
        leaves = [leaf_hash(utf8(chain_input(held[i][0]))) for i in range(1, n + 1)]
        if merkle_root(leaves).hex() != root:
            c = cp.get("chain") if isinstance(cp.get("chain"), dict) else {}
            problems.append(finding("root-mismatch", "checkpoint %s: its root is not the Merkle root of chain %s seq 1..%d as stored" % (cp.get("id"), cid, n), c.get("id", cid), c.get("seq"), cp.get("id")))

    # Pass 3: approvals.
    pruned = bool(anchors)
    all_requested = {_data(e).get("approvalId") for e in events if e.get("type") == "approval.request"}
    requested = set()
    resolved = set()
    for e in events:
        t = e.get("type")
        aid = _data(e).get("approvalId")
        if t == "approval.request":
            if isinstance(aid, str):
                requested.add(aid)
            continue
        if t != "approval.resolve":
            continue
        why = None
        if not isinstance(aid, str):
            why = "it names no approval id"
        elif e.get("id") != resolution_id(aid):
            why = "its id is not the resolution id of approval %s" % aid
        elif aid in resolved:
            why = "approval %s already has an earlier resolution" % aid
        elif aid not in requested:
            why = "no approval.request for %s comes before it" % aid
        if isinstance(aid, str):
            resolved.add(aid)
        if why is None:
            continue
        c = e.get("chain") if isinstance(e.get("chain"), dict) else {}
        f = finding("unbound-resolution", "approval.resolve %s is not bound: %s" % (e.get("id"), why), c.get("id"), c.get("seq"), e.get("id"))
        if pruned and isinstance(aid, str) and aid not in all_requested:
            warnings.append(f)
        else:
            problems.append(f)

    return {"ok": not problems, "events": len(events), "chains": summaries, "problems": problems, "warnings": warnings, "unlisted": 0}
