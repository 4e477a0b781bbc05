"""hub.stix is pure: importing it loads no web, database, queue or network module."""

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
    assert "hub.stix.objects" in loaded  # the check really imported the package
