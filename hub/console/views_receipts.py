"""Receipts: what became of a member's submissions, object by object (its state, the feeds it
went to and as what, how many organisations pulled it there), and how often government members
pulled its objects; both exportable as CSV. A member-admin sees its own organisation's; staff
open any member's from the member's page. The figures are the REST API's (services.receipts)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, render_template, request

from hub.console import bp
from hub.console.format import page_number
from hub.console.security import hub, requires
from hub.console.views_members import scoped_member, submissions_page
from hub.services import activity, receipts
from hub.services.accountability import as_csv


def _csv(text: str, name: str) -> Response:
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@bp.route("/members/<member_id>/receipts")
@requires("members.read", "own.read")
def receipts_list(member_id: str) -> str:
    found = scoped_member(member_id)
    submissions, more, page = submissions_page(found.id, hub().settings.console.page_size)
    return render_template(
        "console/receipts.html",
        member=found,
        submissions=submissions,
        more=more,
        page=page,
        args=lambda number: urlencode({"page": number}),
        access=receipts.government_access_summary(hub(), found.id),
    )


@bp.route("/members/<member_id>/receipts/government-access.csv")
@requires("members.read", "own.read")
def receipts_government_access(member_id: str) -> Response:
    found = scoped_member(member_id)
    rows = receipts.government_access_rows(receipts.government_access_summary(hub(), found.id))
    return _csv(as_csv(rows, receipts.GOVERNMENT_ACCESS_COLUMNS), "government-access")


@bp.route("/members/<member_id>/receipts/<submission_id>")
@requires("members.read", "own.read")
def receipts_submission(member_id: str, submission_id: str) -> str | Response:
    found = scoped_member(member_id)
    if request.args.get("format") == "csv":
        rows = receipts.receipt_rows(hub(), found.id, submission_id)
        text = as_csv(rows, receipts.receipt_columns(hub()))
        return _csv(text, f"receipts-{submission_id}")
    page = page_number(request.args.get("page"))
    size = hub().settings.console.page_size
    body = receipts.submission_receipts(
        hub(), found.id, submission_id, limit=size, offset=(page - 1) * size
    )
    return render_template(
        "console/receipt.html",
        member=found,
        body=body,
        page=page,
        detail=activity.submission(hub(), found.id, submission_id),
        named=hub().settings.transparency.name_subscribers,
        counts=receipts.counts_text,
    )
