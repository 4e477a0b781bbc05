"""hub.stix is pure: importing it loads no web, database, queue or network module."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("flask", "werkzeug", "sqlalchemy", "psycopg", "redis", "requests", "socket", "http")
PURE_PACKAGES = ("hub.stix", "hub.stix.objects", "hub.stix.timestamps")


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
    offenders = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert offenders == []
    assert "hub.stix.objects" in loaded  # the check really imported the package
