"""The dashboard: activity over the last 30 days and the health of the pipeline."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, render_template

from hub.console import bp
from hub.console.charts import bar_chart, hbar_chart
from hub.console.security import hub, requires
from hub.services import dashboard as dashboard_service
from hub.stix.timestamps import now_us


def _label(day_number: int) -> str:
    return datetime.fromtimestamp(day_number * 86_400, tz=UTC).strftime("%m-%d")


@bp.route("/dashboard")
@requires("dashboard")
def dashboard() -> str:
    worker = current_app.extensions.get("hub.worker")
    alive = worker.alive() if worker is not None else None
    data = dashboard_service.build(hub(), worker_alive=alive)
    labels = [_label(d) for d in data.days]
    charts = {
        "submissions": bar_chart(
            labels, data.submissions_per_day, title="Submissions per day", every=5
        ),
        "objects": bar_chart(
            labels, data.objects_per_day, title="Objects received per day", every=5, alt=True
        ),
        "tlp": hbar_chart(
            [(f"TLP:{k.upper()}", v) for k, v in data.releases_by_tlp.items()],
            title="Releases by TLP",
        ),
        "sector": hbar_chart(
            list(data.submissions_by_sector.items())[:10], title="Submissions by sector"
        ),
        "feeds": hbar_chart(list(data.objects_per_feed.items()), title="Object versions per feed"),
    }
    return render_template(
        "console/dashboard.html",
        data=data,
        labels=labels,
        charts=charts,
        in_process=worker is not None,
        now=now_us(),
        queue=hub().settings.queue,
    )
