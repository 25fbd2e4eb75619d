"""An independent verifier of @audit trails and evidence bundles, written from docs/FORMAT.md."""

from .bundle import verify_bundle
from .canonical import canonical_json, chain_input, format_number, hash_event, key_id, resolution_id, storable
from .chain import verify_trail
from .merkle import inclusion_path, leaf_hash, merkle_root, verify_inclusion
from .note import checkpoint_signed_by, load_public_key, note_body, verifier_key
from .reader import parse_line, read_trail

__all__ = [
    "canonical_json",
    "chain_input",
    "checkpoint_signed_by",
    "format_number",
    "hash_event",
    "inclusion_path",
    "key_id",
    "leaf_hash",
    "load_public_key",
    "merkle_root",
    "note_body",
    "parse_line",
    "read_trail",
    "resolution_id",
    "storable",
    "verifier_key",
    "verify_bundle",
    "verify_inclusion",
    "verify_trail",
]
