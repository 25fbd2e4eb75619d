"""The verifier against docs/test-vectors.json: every vector, every tampered case, every finding."""

import copy
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from audit_verify import (  # noqa: E402
    canonical_json,
    chain_input,
    checkpoint_signed_by,
    format_number,
    hash_event,
    inclusion_path,
    key_id,
    leaf_hash,
    load_public_key,
    merkle_root,
    note_body,
    parse_line,
    read_trail,
    resolution_id,
    storable,
    verifier_key,
    verify_bundle,
    verify_inclusion,
    verify_trail,
)

VECTORS_PATH = os.path.join(ROOT, "..", "..", "docs", "test-vectors.json")
with open(VECTORS_PATH, encoding="utf-8") as f:
    V = json.load(f)
KEYS = V["keys"]
PUBLIC = load_public_key(KEYS["ed25519"]["publicKeyPem"])


def key_for(name):
    return {"hmac": KEYS["hmac"]["text"], "wrong": KEYS["hmacWrong"]["text"]}.get(name)


def as_set(findings):
    return sorted("%s %s" % (f["kind"], f.get("eventId") or "") for f in findings)


def write_lines(dirname, name, lines):
    path = os.path.join(dirname, name)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
    return path


class Keys(unittest.TestCase):
    def test_hmac_key_is_its_utf8_bytes(self):
        self.assertEqual(KEYS["hmac"]["text"].encode("utf-8").hex(), KEYS["hmac"]["utf8Hex"])
        self.assertEqual(key_id(KEYS["hmac"]["text"]), KEYS["hmac"]["keyId"])
        self.assertEqual(key_id(bytes.fromhex(KEYS["hmac"]["utf8Hex"])), KEYS["hmac"]["keyId"])
        self.assertEqual(key_id(KEYS["hmacWrong"]["text"]), KEYS["hmacWrong"]["keyId"])

    def test_ed25519_key_forms(self):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives import serialization

        seed = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(KEYS["ed25519"]["seedHex"]))
        raw = seed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.assertEqual(raw.hex(), KEYS["ed25519"]["publicKeyHex"])
        self.assertEqual(verifier_key(KEYS["ed25519"]["name"], PUBLIC), KEYS["ed25519"]["verifierKey"])
        private_half = load_public_key(KEYS["ed25519"]["privateKeyPem"])
        self.assertEqual(verifier_key("x", private_half), verifier_key("x", PUBLIC))


class Canonical(unittest.TestCase):
    def test_canonical_vectors(self):
        for c in V["canonical"]:
            with self.subTest(c["name"]):
                self.assertEqual(canonical_json(json.loads(c["json"])), c["canonical"])

    def test_code_unit_order_differs_from_code_points(self):
        keys = {"\uff21": 1, "\U0001f600": 2}
        self.assertEqual(canonical_json(keys), '{"\U0001f600":2,"\uff21":1}')
        self.assertEqual(sorted(keys), ["\uff21", "\U0001f600"])  # what sorted() alone gives

    def test_numbers(self):
        cases = {
            0.1: "0.1", 1e21: "1e+21", 1e20: "100000000000000000000", 1.5e-7: "1.5e-7",
            1e-6: "0.000001", 123e-20: "1.23e-18", -2.5: "-2.5", 2**53: "9007199254740992",
            2**64: "18446744073709552000", 1.7976931348623157e308: "1.7976931348623157e+308",
            float("inf"): "null", -0.0: "0", 5e-324: "5e-324", 0.000001234: "0.000001234",
        }
        for value, text in cases.items():
            self.assertEqual(format_number(value), text, value)

    def test_storable_and_resolution_ids(self):
        for s in V["storable"]:
            self.assertEqual(storable(s["input"]), s["storable"])
        for r in V["resolutionIds"]:
            self.assertEqual(resolution_id(r["approvalId"]), r["eventId"])


class Events(unittest.TestCase):
    def test_every_event(self):
        described = list(V["events"])
        for c in V["chains"]:
            described += [dict(e, key=c.get("key")) for e in c["events"]]
        self.assertGreater(len(described), 10)
        for d in described:
            text = chain_input(d["event"])
            self.assertEqual(text, d["chainInput"])
            self.assertEqual(text.encode("utf-8").hex(), d["chainInputUtf8Hex"])
            self.assertEqual(hash_event(d["event"], key_for(d.get("key"))), d["hash"])
            self.assertEqual(leaf_hash(text.encode("utf-8")).hex(), d["leaf"])

    def test_checkpoints(self):
        for c in V["chains"]:
            events = [d["event"] for d in c["events"]]
            for cp in c["checkpoints"]:
                e = next(x for x in events if x["id"] == cp["eventId"])
                data = e["data"]
                leaves = [leaf_hash(chain_input(x).encode("utf-8")) for x in events if x["chain"]["seq"] <= data["seq"]]
                self.assertEqual(merkle_root(leaves).hex(), cp["root"])
                self.assertEqual(note_body({k: v for k, v in data.items() if k != "note"}), cp["noteBody"])
                self.assertTrue(checkpoint_signed_by(data, PUBLIC))
                other = copy.deepcopy(data)
                other["seq"] -= 1
                self.assertFalse(checkpoint_signed_by(other, PUBLIC))

    def test_inclusion_proofs(self):
        leaves = [leaf_hash(str(i).encode()) for i in range(13)]
        for n in range(1, 14):
            root = merkle_root(leaves[:n])
            for i in range(n):
                proof = inclusion_path(i, leaves[:n])
                self.assertTrue(verify_inclusion(leaves[i], i, n, proof, root))
                self.assertFalse(verify_inclusion(leaves[(i + 1) % 13], i, n, proof, root) and n > 1)


class Tampered(unittest.TestCase):
    def test_each_case_gives_exactly_its_findings(self):
        self.assertGreater(len(V["tampered"]), 15)
        with tempfile.TemporaryDirectory() as tmp:
            for t in V["tampered"]:
                with self.subTest(t["name"]):
                    lines = t.get("lines") or [json.dumps(e, ensure_ascii=False) for e in t["events"]]
                    events, strict = read_trail(write_lines(tmp, t["name"] + ".jsonl", lines))
                    witness = t.get("witness") or []
                    report = verify_trail(
                        events,
                        key=key_for(t["verify"].get("key")),
                        public_key=PUBLIC if t["verify"]["publicKey"] else None,
                        witness=witness,
                        require_closed=t["verify"]["requireClosed"],
                    )
                    self.assertEqual(as_set(strict + report["problems"]), as_set(t["findings"]))

    def test_strict_parsing(self):
        self.assertEqual(parse_line(b'{"a":1}')[1], [])
        self.assertTrue(parse_line(b'{"a":1,"a":2}')[1])
        self.assertEqual(parse_line(b'{"a":1,"a":2}')[0], {"a": 2})
        self.assertTrue(parse_line(b'{"a":1e400}')[1])
        self.assertTrue(parse_line(b'{"a":NaN}')[1])
        self.assertTrue(parse_line(b'{"a":"\\ud800"}')[1])
        self.assertTrue(parse_line(b'{"a":"\\u0000"}')[1])
        self.assertTrue(parse_line(b'{"a":"\xff"}')[1])
        self.assertEqual(parse_line('{"a":"\\ud83d\\ude00 \u00e9"}'.encode())[1], [])


class Bundles(unittest.TestCase):
    def test_bundles(self):
        for b in V["bundles"]:
            with self.subTest(b["name"]):
                report = verify_bundle(b["bundle"], public_key=PUBLIC)
                self.assertEqual(as_set(report["problems"]), as_set(b["findings"]))
                self.assertEqual(report["ok"], not b["findings"])

    def test_bundle_tampering(self):
        good = V["bundles"][0]["bundle"]
        self.assertTrue(verify_bundle(good)["ok"])
        b = copy.deepcopy(good)
        b["entries"][1]["proof"][0] = "00" * 32
        self.assertEqual(as_set(verify_bundle(b, PUBLIC)["problems"]), ["bad-proof " + b["entries"][1]["event"]["id"]])
        b = copy.deepcopy(good)
        b["entries"][0]["event"]["runId"] = "other"
        kinds = [p["kind"] for p in verify_bundle(b, PUBLIC)["problems"]]
        self.assertIn("wrong-run", kinds)
        b = copy.deepcopy(good)
        b["checkpoints"][0]["data"]["root"] = "11" * 32
        self.assertIn("bad-signature", [p["kind"] for p in verify_bundle(b, PUBLIC)["problems"]])
        b = copy.deepcopy(good)
        b["checkpoints"] = []
        self.assertIn("missing-checkpoint", [p["kind"] for p in verify_bundle(b, PUBLIC)["problems"]])
        self.assertEqual([p["kind"] for p in verify_bundle({"format": "x"})["problems"]], ["malformed"])


class CommandLine(unittest.TestCase):
    def run_cli(self, *args):
        p = subprocess.run([sys.executable, os.path.join(ROOT, "verify.py"), *args], capture_output=True, text=True)
        return p.returncode, p.stdout, p.stderr

    def test_exit_codes_and_named_events(self):
        with tempfile.TemporaryDirectory() as tmp:
            pub = os.path.join(tmp, "pub.pem")
            with open(pub, "w") as f:
                f.write(KEYS["ed25519"]["publicKeyPem"])
            cases = {t["name"]: t for t in V["tampered"]}
            intact = write_lines(tmp, "intact.jsonl", [json.dumps(e) for e in cases["intact"]["events"]])
            code, out, _ = self.run_cli("trail", intact, "--public-key", pub, "--require-closed")
            self.assertEqual(code, 0, out)
            deleted = write_lines(tmp, "deleted.jsonl", [json.dumps(e) for e in cases["deleted-event"]["events"]])
            code, out, _ = self.run_cli("trail", deleted, "--json")
            self.assertEqual(code, 1)
            self.assertEqual(as_set(json.loads(out)["problems"]), as_set(cases["deleted-event"]["findings"]))
            # A JSONL store directory: its files merged by (time, id).
            store = os.path.join(tmp, "store")
            os.mkdir(store)
            evs = cases["intact"]["events"]
            write_lines(store, "audit-2026-01-15.jsonl", [json.dumps(e) for e in evs[:4]])
            write_lines(store, "audit-2026-01-15.1.jsonl", [json.dumps(e) for e in evs[4:]])
            write_lines(store, "notes.txt", ["not part of the trail"])
            code, out, _ = self.run_cli("trail", store, "--public-key", pub, "--require-closed")
            self.assertEqual(code, 0, out)
            code, _, err = self.run_cli("trail", os.path.join(tmp, "absent"))
            self.assertEqual(code, 2)
            self.assertIn("no such file", err)
            bundle = os.path.join(tmp, "bundle.json")
            with open(bundle, "w") as f:
                json.dump(V["bundles"][1]["bundle"], f)
            code, out, _ = self.run_cli("bundle", bundle, "--public-key", pub)
            self.assertEqual(code, 1)
            self.assertIn("PROBLEM leaf-mismatch", out)


if __name__ == "__main__":
    unittest.main()
