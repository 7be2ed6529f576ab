"""The bundle format: manifest, signing, trusted keys, build, verify and all-or-nothing import.

A pure library: no database, no HTTP. Every refusal is a ``BundleError`` (422) with a hint;
a different bundle under an existing name and version is a ``Conflict`` (409).
"""

from appliance.bundle.archive import (
    ImportedBundle,
    VerifiedBundle,
    build_bundle,
    import_bundle,
    read_imported,
    verify_bundle,
)
from appliance.bundle.manifest import Component, Manifest, dump_manifest, parse_manifest
from appliance.bundle.safety import Limits, make_read_only, remove_tree
from appliance.bundle.signing import (
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    sign,
    verify_signature,
)
from appliance.bundle.trust import TrustedKey, add_trusted_key, load_trusted_keys
from appliance.bundle.upgrade import upgrade_allowed

__all__ = [
    "Component",
    "ImportedBundle",
    "Limits",
    "Manifest",
    "TrustedKey",
    "VerifiedBundle",
    "add_trusted_key",
    "build_bundle",
    "dump_manifest",
    "generate_keypair",
    "import_bundle",
    "key_id",
    "load_private_key",
    "load_public_key",
    "load_trusted_keys",
    "make_read_only",
    "parse_manifest",
    "read_imported",
    "remove_tree",
    "sign",
    "upgrade_allowed",
    "verify_bundle",
    "verify_signature",
]
