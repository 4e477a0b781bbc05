"""REST endpoints for members: submit a bundle or an indicator list, follow its status.

Errors are RFC 9457 problem details (`application/problem+json`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, request

from hub.auth.principal import Principal
from hub.errors import BadRequest, NotFound, PayloadTooLarge
from hub.services import Hub, ingest
from hub.services import objects as object_service
from hub.stix.timestamps import format_us
from hub.storage.submissions import Submission
from hub.taxii import render
from hub.webauth import principal_from

bp = Blueprint("api", __name__)


def _hub() -> Hub:
    hub: Hub = current_app.extensions["hub"]
    return hub


def _principal() -> Principal:
    principal: Principal = g.principal
    return principal


@bp.before_request
def _authenticate() -> None:
    g.principal = principal_from(_hub(), request.authorization)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(render.dumps(body), status=status, content_type="application/json")


def _submission(submission: Submission, status: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": submission.id,
        "collection_id": submission.collection_id,
        "received": format_us(submission.received_us),
        "size": submission.size,
        "sha256": submission.sha256,
        "content_type": submission.content_type,
        "state": submission.state,
        "status": status,
    }


@bp.post("/submissions")
def create_submission() -> Response:
    """Body: a STIX 2.1 bundle or TAXII envelope (JSON), a CSV list or a plain-text list."""
    hub = _hub()
    content_type = request.headers.get("Content-Type")
    if not content_type:
        raise BadRequest("send a Content-Type: application/json, text/csv or text/plain")
    limit = hub.settings.taxii.max_content_length
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the body is {request.content_length} bytes; the limit is {limit}")
    request.max_content_length = limit + 1  # see the TAXII view: chunked bodies
    body = request.get_data(cache=False)
    if len(body) > limit:
        raise PayloadTooLarge(f"the body is larger than the limit of {limit} bytes")
    collection = request.args.get("collection", "inbox")
    submission, status = ingest.submit(
        hub, _principal(), collection, body, content_type, channel="api"
    )
    return _json(_submission(submission, render.status(status)), status=202)


@bp.get("/submissions/<submission_id>")
def get_submission(submission_id: str) -> Response:
    hub = _hub()
    submission = ingest.find_submission(hub, _principal(), submission_id)
    if submission is None:
        raise NotFound(f"no submission {submission_id!r}")
    status = object_service.get_status(hub, _principal(), submission.status_id)
    return _json(_submission(submission, render.status(status)))
