"""STIX 2.1 JSON-schema validation with the OASIS schemas, compiled once per object type.

The schemas are the ones the OASIS CTI TC publishes, as shipped inside the `stix2-validator`
package (folder `schemas-2.1/schemas`); they are read from there when a validator is built, and
their cross-references are resolved inside that set, never over the network. Objects of types
the schemas do not define (custom objects) are checked against the common core schema that
fits them: SDO/SRO-like (they have `created`) or cyber-observable-like.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from threading import Lock
from typing import Any

import jsonschema_rs

_FOLDERS = ("sdos", "sros", "observables", "common")
# Types whose schema lives in `common/` rather than under their own kind.
_COMMON_TYPES = {
    "marking-definition": "marking-definition",
    "language-content": "language-content",
    "extension-definition": "extension-definition",
    "bundle": "bundle",
}


def _schema_root() -> Path:
    """The schema folder of the installed stix2-validator, found without importing it."""
    spec = importlib.util.find_spec("stix2validator")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the stix2-validator package (which ships the schemas) is missing")
    return Path(next(iter(spec.submodule_search_locations))) / "schemas-2.1" / "schemas"


class SchemaValidator:
    """Validates plain dicts; thread-safe. `errors(obj)` lists problems naming the property."""

    def __init__(self) -> None:
        self._by_file: dict[str, dict[str, Any]] = {}
        root = _schema_root()
        for folder in _FOLDERS:
            for entry in sorted((root / folder).iterdir()):
                if entry.name.endswith(".json"):
                    schema = json.loads(entry.read_text(encoding="utf-8"))
                    self._by_file[f"{folder}/{entry.name[:-5]}"] = schema
        self._registry = jsonschema_rs.Registry(
            [(schema["$id"], schema) for schema in self._by_file.values()]
        )
        self._types: dict[str, str] = {}
        for key in self._by_file:
            folder, name = key.split("/")
            if folder != "common":
                self._types[name] = key
        for obj_type, name in _COMMON_TYPES.items():
            self._types[obj_type] = f"common/{name}"
        self._compiled: dict[str, Any] = {}
        self._lock = Lock()

    def known_types(self) -> frozenset[str]:
        return frozenset(self._types) - {"bundle"}

    def _validator(self, key: str) -> Any:
        validator = self._compiled.get(key)
        if validator is None:
            with self._lock:
                validator = self._compiled.get(key)
                if validator is None:
                    validator = jsonschema_rs.validator_for(
                        self._by_file[key], registry=self._registry, validate_formats=False
                    )
                    self._compiled[key] = validator
        return validator

    def _key_for(self, obj: dict[str, Any]) -> str:
        obj_type = obj.get("type")
        if isinstance(obj_type, str) and obj_type in self._types:
            return self._types[obj_type]
        return "common/core" if "created" in obj else "common/cyber-observable-core"

    def errors(self, obj: dict[str, Any]) -> list[str]:
        validator = self._validator(self._key_for(obj))
        if validator.is_valid(obj):
            return []
        messages = {_describe(error) for error in _specific(validator.iter_errors(obj))}
        return sorted(messages)


def _specific(errors: Any) -> list[Any]:
    """The most specific errors: for a failed oneOf/anyOf, the errors of its branches that
    reach deepest into the object (`"yes" is not of type boolean` at `is_family`), not the
    whole object restated."""
    found: list[Any] = []
    for error in errors:
        branches = getattr(error.kind, "context", None)
        if branches:
            inner = _specific(e for branch in branches for e in branch)
            if inner:
                deepest = max(len(e.instance_path) for e in inner)
                if deepest > len(error.instance_path):
                    found += [e for e in inner if len(e.instance_path) == deepest]
                    continue
        found.append(error)
    return found


def _describe(error: Any) -> str:
    path = "".join(
        f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p))
        for i, p in enumerate(error.instance_path)
    )
    where = f"property '{path}'" if path else "the object"
    message = str(error.message)
    if len(message) > 300:
        message = message[:300] + "…"
    return f"{where}: {message}"
