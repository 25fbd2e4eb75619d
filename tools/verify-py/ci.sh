#!/usr/bin/env bash
# The second verifier in CI: its unit tests over docs/test-vectors.json, then agreement with
# `audit verify` / `audit verify-bundle` on a trail the demo writes, a signed and keyed trail, their
# tampered copies, and evidence bundles. Needs the packages built (pnpm build).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export PYTHONDONTWRITEBYTECODE=1

# Standard library plus `cryptography`: Debian's package when the module is missing.
if ! python3 -c "import cryptography" 2>/dev/null; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-cryptography
  else
    echo "verify-py: the Python module cryptography is missing (apt-get install python3-cryptography)" >&2
    exit 1
  fi
fi

echo "== verify-py unit tests"
(cd "$here" && python3 -m unittest)

bin="$root/packages/cli/dist/bin.js"
if [ ! -f "$bin" ] || [ ! -f "$root/packages/jsonl/dist/index.js" ]; then
  (cd "$root" && npx --yes pnpm@10.34.9 exec turbo run build --filter=@audit/example-demo... --output-logs=errors-only)
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0

# compare NAME DIR "AUDIT VERIFY ARGS" "VERIFY-PY ARGS" [EXPECTED_KIND …]
compare() {
  local name="$1" dir="$2" ts_args="$3" py_args="$4"
  shift 4
  local ts_exit=0 py_exit=0
  # shellcheck disable=SC2086
  node "$bin" verify --store "jsonl:$dir" -o json $ts_args >"$tmp/ts.json" 2>"$tmp/ts.err" || ts_exit=$?
  # shellcheck disable=SC2086
  python3 "$here/verify.py" trail "$dir" --json $py_args >"$tmp/py.json" 2>"$tmp/py.err" || py_exit=$?
  if [ "$ts_exit" -gt 1 ] || [ "$py_exit" -gt 1 ]; then
    echo "DISAGREE $name: a verifier failed to run (audit verify $ts_exit, verify-py $py_exit)"
    cat "$tmp/ts.err" "$tmp/py.err"
    failures=$((failures + 1))
    return
  fi
  python3 "$here/agree.py" "$name" "$tmp/ts.json" "$ts_exit" "$tmp/py.json" "$py_exit" "$@" ||
    failures=$((failures + 1))
}

# tampered NAME SOURCE_DIR ACTION "TS ARGS" "PY ARGS" EXPECTED_KIND …
tampered() {
  local name="$1" src="$2" action="$3" ts_args="$4" py_args="$5"
  shift 5
  rm -rf "$tmp/$name"
  cp -r "$src" "$tmp/$name"
  python3 "$here/tamper.py" "$tmp/$name" "$action" >/dev/null
  compare "$name" "$tmp/$name" "$ts_args" "$py_args" "$@"
}

echo "== the demo's trail (JSONL store, SHA-256 chain)"
demo="$tmp/demo"
AUDIT_STORE="jsonl:$demo" "$root/node_modules/.bin/tsx" "$root/examples/demo/demo.ts" >"$tmp/demo.log"
compare demo "$demo" "--require-closed" "--require-closed"
# The same trail as an export: audit query -o jsonl --order asc.
node "$bin" query --store "jsonl:$demo" -o jsonl --order asc --limit 1000000 >"$tmp/export.jsonl"
python3 "$here/verify.py" trail "$tmp/export.jsonl" --require-closed >/dev/null
echo "agree demo (exported with audit query)"
tampered demo-edit-data "$demo" edit-data "" "" hash-mismatch
tampered demo-delete-line "$demo" delete-line "" "" gap
tampered demo-drop-tail "$demo" drop-tail "--require-closed" "--require-closed" unclosed
tampered demo-rewrite-resolve "$demo" rewrite-resolve "" "" broken-link
tampered demo-duplicate-key "$demo" duplicate-key "" "" non-strict-json

echo "== a signed, keyed trail and its evidence bundle"
signed="$tmp/signed"
export AUDIT_CHAIN_KEY="ci-chain-key-0123456789-é"
run_id="$(cd "$root/examples/demo" && SIGNED_DIR="$signed" KEY_DIR="$tmp" node --input-type=module -e '
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createAuditor } from "@audit/core";
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
writeFileSync(`${process.env.KEY_DIR}/signing.pub`, publicKey.export({ format: "pem", type: "spki" }));
const audit = await createAuditor({
  store: `jsonl:${process.env.SIGNED_DIR}`,
  spool: false,
  actor: "ci",
  integrity: { key: process.env.AUDIT_CHAIN_KEY, signingKey: privateKey, checkpointEvery: 4 },
});
const run = audit.startRun({ agent: "refunds" });
for (let i = 0; i < 5; i++) await run.tool("lookup", { order: `A-${i}` }, async () => ({ total: i * 100 }));
const approvalId = run.requestApproval({ action: "refund", reason: "over the limit" });
await audit.flush();
await audit.approvals.resolve(approvalId, { outcome: "approve", resolvedBy: "alice" });
await run.end({ output: "refunded" });
await audit.close();
console.log(run.runId);
')"
keys="--public-key $tmp/signing.pub --require-closed"
compare signed "$signed" "$keys" "$keys"
tampered signed-edit-data "$signed" edit-data "$keys" "$keys" hash-mismatch
tampered signed-bad-note "$signed" bad-note "$keys" "$keys" bad-signature
compare signed-wrong-key "$signed" "$keys --key another-key-0123456789" "$keys --key another-key-0123456789" wrong-key

echo "== evidence bundles"
node "$bin" evidence --store "jsonl:$signed" --run "$run_id" --public-key "$tmp/signing.pub" -o "$tmp/bundle.json" 2>/dev/null
python3 - "$tmp/bundle.json" "$tmp/bundle-bad.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
b["entries"][1]["event"]["data"]["args"] = {"order": "A-999"}
json.dump(b, open(sys.argv[2], "w"))
PY
for bundle in bundle bundle-bad; do
  ts_exit=0
  py_exit=0
  node "$bin" verify-bundle "$tmp/$bundle.json" --public-key "$tmp/signing.pub" -o json >"$tmp/ts.json" || ts_exit=$?
  python3 "$here/verify.py" bundle "$tmp/$bundle.json" --public-key "$tmp/signing.pub" --json >"$tmp/py.json" || py_exit=$?
  python3 "$here/agree.py" "$bundle" "$tmp/ts.json" "$ts_exit" "$tmp/py.json" "$py_exit" \
    $([ "$bundle" = bundle-bad ] && echo leaf-mismatch bad-proof) || failures=$((failures + 1))
  if [ "$bundle" = bundle ] && [ "$ts_exit" != 0 ]; then
    echo "the evidence bundle does not verify"
    failures=$((failures + 1))
  fi
done

if [ "$failures" -gt 0 ]; then
  echo "verify-py: $failures disagreements"
  exit 1
fi
echo "verify-py: both verifiers agree on every case"
