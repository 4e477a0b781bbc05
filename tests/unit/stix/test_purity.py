"""hub.stix and hub.sharing are pure: importing them loads no web, database, queue or network
module."""

from __future__ import annotations

import json
import subprocess
import sys

# Web, database, queue and HTTP-client modules. (The standard library's `socket` is not listed:
# jsonschema-rs imports `email.utils`, which imports it without opening anything.)
FORBIDDEN = (
    "flask",
    "werkzeug",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "redis",
    "requests",
    "urllib3",
    "http.client",
    "gunicorn",
)
PURE_PACKAGES = (
    "hub.stix",
    "hub.stix.objects",
    "hub.stix.timestamps",
    "hub.stix.patterns",
    "hub.stix.schemas",
    "hub.stix.validation",
    "hub.stix.markings",
    "hub.stix.indicators",
    "hub.sharing",
    "hub.sharing.policy",
    "hub.sharing.pii",
    "hub.sharing.decide",
    "hub.sharing.transform",
    "hub.sharing.pseudonyms",
    "hub.sharing.versions",
)


def test_pure_packages_import_nothing_impure() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {PURE_PACKAGES!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    offenders = [m for m in loaded if m in FORBIDDEN or m.split(".")[0] in FORBIDDEN]
    assert offenders == []
    assert "hub.stix.objects" in loaded  # the check really imported the packages
    assert "hub.sharing.transform" in loaded


def test_every_module_of_the_pure_packages_is_checked() -> None:
    import pkgutil

    import hub.sharing
    import hub.stix

    modules = {
        f"{package.__name__}.{info.name}"
        for package in (hub.stix, hub.sharing)
        for info in pkgutil.iter_modules(package.__path__)
    }
    assert modules <= set(PURE_PACKAGES)
