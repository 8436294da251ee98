#!/usr/bin/env python3
"""Independent check of a Sovereign DSSE envelope with securesystemslib.

Usage: verify_dsse.py ENVELOPE THRESHOLD PUBKEY.pem [PUBKEY.pem ...]

Loads each PEM SubjectPublicKeyInfo with `cryptography`, turns it into
securesystemslib's Ed25519 key form (keyval.public = hex of the raw key,
keyid = hex SHA-256 of the raw key, as Sovereign defines key ids), and
verifies the envelope with securesystemslib.dsse. Prints the verified key
ids and the statement's _type on success; exits 1 with the reason on failure.
"""
import hashlib
import json
import sys

from cryptography.hazmat.primitives import serialization
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey


def load_key(path):
    with open(path, "rb") as f:
        public = serialization.load_pem_public_key(f.read())
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    keyid = hashlib.sha256(raw).hexdigest()
    return SSlibKey(keyid, "ed25519", "ed25519", {"public": raw.hex()})


def main():
    envelope_path, threshold, key_paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    with open(envelope_path) as f:
        envelope = Envelope.from_dict(json.load(f))
    keys = [load_key(p) for p in key_paths]
    try:
        verified = envelope.verify(keys, threshold)
    except Exception as error:  # securesystemslib raises VerificationError
        print(f"rejected: {type(error).__name__}: {error}")
        return 1
    statement = json.loads(envelope.payload)
    print("verified", " ".join(sorted(verified)))
    print("type", statement["_type"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
