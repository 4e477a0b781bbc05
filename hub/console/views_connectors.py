"""The connectors' status: last runs, cursor, counters, backlog and errors (read from each
connector's state file on this machine; connectors run as processes of their own)."""

from __future__ import annotations

from typing import Any

from flask import render_template

from hub.console import bp
from hub.console.security import hub, requires


@bp.route("/connectors")
@requires("dashboard")
def connectors() -> str:
    from connectors.status import status

    settings = hub().settings
    found: list[dict[str, Any]] = [status(settings, cfg) for cfg in settings.connectors]
    return render_template("console/connectors.html", connectors=found)
