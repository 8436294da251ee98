#!/usr/bin/env python3
"""Independent check of a Sovereign in-toto statement carrying a SLSA
provenance v1 or SLSA VSA v1 predicate, with the in-toto project's own
`in-toto-attestation` library (protobuf bindings of the spec).

Usage: check_slsa_predicate.py provenance|vsa STATEMENT.json

- The statement is parsed strictly (unknown or mistyped fields are errors)
  into in_toto_attestation.v1.Statement and checked with its validate().
- provenance: the predicate is parsed strictly into
  in_toto_attestation.predicates.provenance.v1.Provenance (field names,
  types and RFC 3339 timestamps) and the fields SLSA requires are checked;
  every ResourceDescriptor is checked with the library's validate().
- vsa: the library's VSA v1 binding (0.9.3) cannot parse a conforming VSA
  (it declares verifiedLevels a single string and lacks verifier.version),
  so the predicate's shape is checked here against the SLSA VSA 1.1 text,
  while policy and inputAttestations are parsed strictly as
  ResourceDescriptors and timeVerified as a protobuf Timestamp.

Prints "valid" and exits 0, or the first problem and exits 1; exits 2 when
the library is missing (run scripts/setup).
"""
import json
import re
import sys


def fail(message):
    print(message)
    sys.exit(1)


def main():
    try:
        from google.protobuf import json_format
        from google.protobuf.timestamp_pb2 import Timestamp
        from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
        from in_toto_attestation.v1 import resource_descriptor_pb2, statement_pb2
        from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
        from in_toto_attestation.v1.statement import Statement
    except ImportError as error:
        print(f"cannot import in-toto-attestation ({error}): run scripts/setup")
        return 2

    kind, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        document = json.load(f)

    def strict(message, value, where):
        try:
            json_format.ParseDict(value, message, ignore_unknown_fields=False)
        except json_format.ParseError as error:
            fail(f"{where}: {error}")
        return message

    def descriptor(value, where):
        rd = strict(resource_descriptor_pb2.ResourceDescriptor(), value, where)
        try:
            ResourceDescriptor.copy_from_pb(rd).validate()
        except ValueError as error:
            fail(f"{where}: {error}")
        return rd

    statement = strict(statement_pb2.Statement(), document, "statement")
    try:
        Statement.copy_from_pb(statement).validate()
    except ValueError as error:
        fail(f"statement: {error}")
    predicate = document["predicate"]

    if kind == "provenance":
        if statement.predicate_type != "https://slsa.dev/provenance/v1":
            fail(f"statement: predicateType is {statement.predicate_type}")
        provenance = strict(provenance_pb2.Provenance(), predicate, "predicate")
        definition, run = provenance.build_definition, provenance.run_details
        if not definition.build_type:
            fail("predicate: buildDefinition.buildType is required")
        if not definition.HasField("external_parameters"):
            fail("predicate: buildDefinition.externalParameters is required")
        if not run.builder.id:
            fail("predicate: runDetails.builder.id is required")
        for field, items in (("buildDefinition.resolvedDependencies", predicate["buildDefinition"].get("resolvedDependencies", [])),
                             ("runDetails.byproducts", predicate["runDetails"].get("byproducts", [])),
                             ("runDetails.builder.builderDependencies", predicate["runDetails"]["builder"].get("builderDependencies", []))):
            for i, item in enumerate(items):
                descriptor(item, f"predicate: {field}[{i}]")
    elif kind == "vsa":
        if statement.predicate_type != "https://slsa.dev/verification_summary/v1":
            fail(f"statement: predicateType is {statement.predicate_type}")
        known = {"verifier", "timeVerified", "resourceUri", "policy", "inputAttestations",
                 "verificationResult", "verifiedLevels", "dependencyLevels", "slsaVersion"}
        # Extension fields are allowed if their names are URIs (spec: parsing rules).
        unknown = sorted(key for key in set(predicate) - known if ":" not in key)
        if unknown:
            fail(f"predicate: fields the VSA spec does not define: {unknown}")
        verifier = predicate.get("verifier")
        if not isinstance(verifier, dict) or not isinstance(verifier.get("id"), str) or not verifier["id"]:
            fail("predicate: verifier.id is required (a string)")
        if set(verifier) - {"id", "version"}:
            fail(f"predicate: verifier has unknown fields {sorted(set(verifier) - {'id', 'version'})}")
        version = verifier.get("version", {})
        if not isinstance(version, dict) or not all(isinstance(v, str) for v in version.values()):
            fail("predicate: verifier.version must map strings to strings")
        if "timeVerified" in predicate:
            try:
                Timestamp().FromJsonString(predicate["timeVerified"])
            except (ValueError, TypeError) as error:
                fail(f"predicate: timeVerified: {error}")
        if not isinstance(predicate.get("resourceUri"), str) or not predicate["resourceUri"]:
            fail("predicate: resourceUri is required (a string)")
        if "policy" not in predicate:
            fail("predicate: policy is required")
        if not descriptor(predicate["policy"], "predicate: policy").uri:
            fail("predicate: policy.uri is required")
        for i, item in enumerate(predicate.get("inputAttestations", [])):
            if not descriptor(item, f"predicate: inputAttestations[{i}]").digest:
                fail(f"predicate: inputAttestations[{i}] must have a digest")
        if predicate.get("verificationResult") not in ("PASSED", "FAILED"):
            fail(f"predicate: verificationResult must be PASSED or FAILED, got {predicate.get('verificationResult')!r}")
        levels = predicate.get("verifiedLevels")
        if not isinstance(levels, list) or not all(isinstance(level, str) for level in levels):
            fail("predicate: verifiedLevels is required (an array of strings)")
        dependency_levels = predicate.get("dependencyLevels", {})
        if not isinstance(dependency_levels, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in dependency_levels.values()):
            fail("predicate: dependencyLevels must map levels to non-negative integers")
        if "slsaVersion" in predicate and not re.fullmatch(r"[0-9]+\.[0-9]+", str(predicate["slsaVersion"])):
            fail(f"predicate: slsaVersion must be MAJOR.MINOR, got {predicate['slsaVersion']!r}")
    else:
        fail(f"unknown kind {kind!r}: expected provenance or vsa")
    print("valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
