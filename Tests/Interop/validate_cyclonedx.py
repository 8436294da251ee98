#!/usr/bin/env python3
"""Independent check of a Sovereign CycloneDX BOM with cyclonedx-python-lib.

Usage: validate_cyclonedx.py BOM.json

Validates the document against the CycloneDX 1.6 JSON schema with
cyclonedx-python-lib's JsonStrictValidator (jsonschema Draft 7 with format
checks: date-time, iri-reference, ...), then loads it into the library's
object model (Bom.from_json), runs its Bom.validate() (the dependency
graph names only known bom-refs; any warning counts as a failure) and checks
the serial number and the machine-learning-model component survived. Prints "valid" and exits 0, or
prints every schema error and exits 1. Exits 2 when the validator cannot run
(missing optional dependencies: run scripts/setup).
"""
import json
import sys
import warnings


def main():
    try:
        from cyclonedx.exception import MissingOptionalDependencyException
        from cyclonedx.model.bom import Bom
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
        import rfc3339_validator  # noqa: F401  (without it jsonschema skips date-time checks silently)
        import rfc3987_syntax  # noqa: F401  (likewise for iri-reference)
    except ImportError as error:
        print(f"cannot import the validator ({error}): run scripts/setup")
        return 2

    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    try:
        errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    except MissingOptionalDependencyException as error:
        print(f"{error}: run scripts/setup")
        return 2
    if errors is not None:
        for error in errors:
            data = error.data
            where = "/".join(str(p) for p in data.absolute_path)
            print(f"schema: /{where}: {data.message}")
        return 1

    document = json.loads(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            bom = Bom.from_json(document)  # type: ignore[attr-defined]
            bom.validate()  # dependency graph: every ref names a component
        except Exception as error:  # the library raises its own exception types
            print(f"model: {type(error).__name__}: {error}")
            return 1
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            print(f"model: {warning.message}")
            return 1
    if bom.serial_number is None or f"urn:uuid:{bom.serial_number}" != document["serialNumber"]:
        print(f"model: serial number read back as {bom.serial_number}")
        return 1
    models = [c for c in bom.components if c.type.value == "machine-learning-model"]
    if len(models) != 1:
        print(f"model: expected one machine-learning-model component, read {len(models)}")
        return 1
    print("valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
