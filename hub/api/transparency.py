"""The public transparency report: /transparency (a page) and /transparency.json."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from hub.errors import NotFound
from hub.services import transparency
from hub.taxii import render
from hub.web import authenticate_request, current_hub

bp = Blueprint("transparency", __name__, template_folder="templates")


@bp.before_request
def _enabled_and_allowed() -> None:
    settings = current_hub().settings.transparency
    if not settings.enabled:
        raise NotFound("this hub does not publish a transparency report")
    if not settings.public:
        authenticate_request()


@bp.get("/transparency.json")
def report_json() -> Response:
    body = render.dumps(transparency.report(current_hub()))
    return Response(body, content_type="application/json")


@bp.get("/transparency")
def report_page() -> str:
    hub = current_hub()
    return render_template(
        "transparency.html", report=transparency.report(hub), title=hub.settings.taxii.title
    )
