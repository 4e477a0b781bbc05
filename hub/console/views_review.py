"""The review queue: objects held by the personal-data and marking rules, with what was found
marked; approve as is, edit and approve, or reject. Every decision names the reviewer."""

from __future__ import annotations

import orjson
from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from hub.console import bp
from hub.console.highlight import properties, whole_object_hits
from hub.console.security import hub, requires, user
from hub.errors import HubError
from hub.services import membership, review

STATES = ("pending", "approved", "rejected")


@bp.route("/review")
@requires("review.read")
def review_queue() -> str:
    state = request.args.get("state", "pending")
    if state not in (*STATES, "all"):
        state = "pending"
    items = review.list_items(hub(), None if state == "all" else state, limit=500)
    names = {m.id: m.name for m in membership.list_members(hub())}
    return render_template(
        "console/review_queue.html", items=items, state=state, states=STATES, names=names
    )


def _item_page(item_id: str, *, error: str | None = None, edited: str | None = None) -> str:
    item = review.get_item(hub(), item_id)
    body = orjson.loads(item.edited_body or item.body)
    return render_template(
        "console/review_item.html",
        item=item,
        member=membership.find_member(hub(), item.member_id),
        properties=properties(orjson.loads(item.body), item.hit_list),
        whole=whole_object_hits(item.hit_list),
        pretty=edited
        if edited is not None
        else orjson.dumps(body, option=orjson.OPT_INDENT_2).decode("utf-8"),
        error=error,
    )


@bp.route("/review/<item_id>")
@requires("review.read")
def review_item(item_id: str) -> str:
    return _item_page(item_id)


@bp.route("/review/<item_id>/approve", methods=["POST"])
@requires("review.decide")
def review_approve(item_id: str) -> Response | tuple[str, int]:
    note = request.form.get("note", "").strip() or None
    edited_text = request.form.get("edited")
    edited = None
    if edited_text is not None:
        try:
            edited = orjson.loads(edited_text)
        except orjson.JSONDecodeError as exc:
            return _item_page(
                item_id, error=f"The edit is not JSON: {exc}", edited=edited_text
            ), 400
        if not isinstance(edited, dict):
            return _item_page(
                item_id, error="The edit must be one JSON object", edited=edited_text
            ), 400
    try:
        outcome = review.approve(hub(), item_id, user().email, edited=edited, note=note)
    except HubError as exc:
        return _item_page(item_id, error=exc.description, edited=edited_text), exc.status
    flash(f"Approved{' as edited' if edited is not None else ''}: {outcome.message}.", "info")
    return redirect(url_for("console.review_queue"))


@bp.route("/review/<item_id>/reject", methods=["POST"])
@requires("review.decide")
def review_reject(item_id: str) -> Response | tuple[str, int]:
    note = request.form.get("note", "").strip() or None
    try:
        outcome = review.reject(hub(), item_id, user().email, note=note)
    except HubError as exc:
        return _item_page(item_id, error=exc.description), exc.status
    flash(f"Rejected: {outcome.message}.", "info")
    return redirect(url_for("console.review_queue"))
