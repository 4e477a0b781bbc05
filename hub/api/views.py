"""REST endpoints for members: submit a bundle or an indicator list, follow its status.

Errors are RFC 9457 problem details (`application/problem+json`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from hub.errors import BadRequest, NotFound
from hub.services import accountability, ingest, receipts
from hub.services import objects as object_service
from hub.stix.timestamps import format_us
from hub.storage.submissions import Submission
from hub.taxii import render
from hub.web import authenticate_request, current_hub, current_principal, read_body

bp = Blueprint("api", __name__)


bp.before_request(authenticate_request)


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
    """Body: a STIX 2.1 bundle or TAXII envelope (JSON), a CSV list or a plain-text list.

    Query: `collection` (alias or id, default inbox); `tlp` (CSV and text lists: the TLP of rows
    that name none). Header `Idempotency-Key`: sending the same key again returns the first
    submission instead of making a second.
    """
    hub = current_hub()
    content_type = request.headers.get("Content-Type")
    if not content_type:
        raise BadRequest("send a Content-Type: application/json, text/csv or text/plain")
    body = read_body(hub.settings.taxii.max_content_length)
    collection = request.args.get("collection", "inbox")
    submission, status = ingest.submit(
        hub,
        current_principal(),
        collection,
        body,
        content_type,
        channel="api",
        idempotency_key=request.headers.get("Idempotency-Key"),
        default_tlp=request.args.get("tlp"),
        request_id=g.get("request_id"),
    )
    return _json(_submission(submission, render.status(status)), status=202)


@bp.get("/submissions/<submission_id>/receipts")
def get_receipts(submission_id: str) -> Response:
    """Per object of the caller's submission: where it was released, as what, and how many
    organisations (by kind and sector) pulled it. Query: `limit` (1-1000), `offset`."""
    limit = _int_arg("limit", 1000, 1, 1000)
    offset = _int_arg("offset", 0, 0, None)
    body = receipts.submission_receipts(
        current_hub(), current_principal().member_id, submission_id, limit=limit, offset=offset
    )
    return _json(body)


@bp.get("/receipts/government-access")
def government_access() -> Response:
    """How often government members pulled the caller's released objects (counts only);
    `?format=csv` for a spreadsheet."""
    summary = receipts.government_access_summary(current_hub(), current_principal().member_id)
    if request.args.get("format") == "csv":
        rows = receipts.government_access_rows(summary)
        return Response(
            accountability.as_csv(rows, receipts.GOVERNMENT_ACCESS_COLUMNS),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="government-access.csv"'},
        )
    return _json(summary)


def _int_arg(name: str, default: int, low: int, high: int | None) -> int:
    text = request.args.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < low or (high is not None and int(text) > high):
        bounds = f"{low} to {high}" if high is not None else f"{low} or more"
        raise BadRequest(f"{name} must be a whole number, {bounds}")
    return int(text)


@bp.get("/submissions/<submission_id>")
def get_submission(submission_id: str) -> Response:
    hub = current_hub()
    submission = ingest.find_submission(hub, current_principal(), submission_id)
    if submission is None:
        raise NotFound(f"no submission {submission_id!r}")
    status = object_service.get_status(hub, current_principal(), submission.status_id)
    return _json(_submission(submission, render.status(status)))
