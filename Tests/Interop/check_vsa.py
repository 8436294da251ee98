#!/usr/bin/env python3
"""Independent check of a `sovereign certify` VSA, with tools we did not write.

Usage: check_vsa.py VSA.dsse.json CERTIFIER.pub.pem OCI_LAYOUT_DIR

1. securesystemslib.dsse verifies the envelope's signature with the
   certifier's key (threshold 1);
2. the payload is an in-toto Statement v1 read by the in-toto-attestation
   library, with the SLSA VSA v1 predicate type;
3. its first subject's sha256 equals the image manifest's digest,
   recomputed here with hashlib over the manifest blob that the layout's
   index.json names (the blob's bytes are hashed, the index is not trusted);
4. no verified level starts with SLSA_;
5. every input attestation found beside the VSA (the audit report) hashes,
   with hashlib over the file's bytes, to the digest the VSA signs.
Prints a JSON summary; exits 1 with the reason on any failure.
"""
import base64
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import serialization
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement


def fail(reason):
    print(json.dumps({"ok": False, "reason": reason}))
    sys.exit(1)


def main():
    envelope_path, key_path, layout = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(key_path, "rb") as f:
        public = serialization.load_pem_public_key(f.read())
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = SSlibKey(hashlib.sha256(raw).hexdigest(), "ed25519", "ed25519", {"public": raw.hex()})
    with open(envelope_path) as f:
        envelope = Envelope.from_dict(json.load(f))
    try:
        envelope.verify([key], 1)
    except Exception as error:  # noqa: BLE001 - the reason is the output
        fail(f"signature: {error}")
    with open(envelope_path) as f:
        statement = json.loads(base64.b64decode(json.load(f)["payload"]))
    # The in-toto-attestation library's own validation of a Statement v1.
    message = json_format.ParseDict(statement, statement_pb2.Statement())
    Statement(message.subject, message.predicate_type, message.predicate).validate()
    if statement["predicateType"] != "https://slsa.dev/verification_summary/v1":
        fail(f"predicateType {statement['predicateType']}")

    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    manifest = next(m for m in index["manifests"] if m["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
                    and "in-toto.io/predicate-type" not in m.get("annotations", {}))
    algorithm, hexdigest = manifest["digest"].split(":")
    with open(os.path.join(layout, "blobs", algorithm, hexdigest), "rb") as f:
        recomputed = hashlib.sha256(f.read()).hexdigest()
    if recomputed != hexdigest:
        fail("the manifest blob does not hash to its name")
    subjects = statement["subject"]
    if subjects[0]["digest"].get("sha256") != recomputed:
        fail(f"subject {subjects[0]['digest']} is not the manifest {recomputed}")
    predicate = statement["predicate"]
    levels = predicate["verifiedLevels"]
    if any(level.startswith("SLSA_") for level in levels):
        fail(f"a custom level starts with SLSA_: {levels}")
    inputs = []
    for attestation in predicate.get("inputAttestations", []):
        if attestation["name"] == "layer-approval":
            # A policy author's approval the image carries: a blob of the layout, approving the certified layer.
            hexdigest = attestation["digest"]["sha256"]
            with open(os.path.join(layout, "blobs", "sha256", hexdigest), "rb") as f:
                blob = f.read()
            if hashlib.sha256(blob).hexdigest() != hexdigest:
                fail(f"the layer approval blob {hexdigest} does not hash to its name")
            approval = json.loads(base64.b64decode(json.loads(blob)["payload"]))
            if approval["predicateType"] != "https://sovereign.dev/layer-approval/v1":
                fail(f"input attestation {hexdigest} is not a layer approval")
            if approval["subject"][0] != subjects[1]:
                fail(f"the layer approval {hexdigest} approves {approval['subject'][0]}, the VSA certifies {subjects[1]}")
            inputs.append(attestation["name"])
            continue
        path = os.path.join(os.path.dirname(envelope_path), attestation["name"])
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != attestation["digest"]["sha256"]:
            fail(f"input attestation {attestation['name']} hashes to {digest}, the VSA signs {attestation['digest']['sha256']}")
        inputs.append(attestation["name"])
    print(json.dumps({"ok": True, "result": predicate["verificationResult"], "levels": levels,
                      "manifest": "sha256:" + recomputed, "subjects": [s.get("name") for s in subjects],
                      "inputAttestations": inputs}))


if __name__ == "__main__":
    main()
