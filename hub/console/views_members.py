"""Members: list with search and filters, add, edit, suspend and reinstate; per member its
keys (issue, rotate, revoke), recent submissions and what it received."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.exceptions import abort
from werkzeug.wrappers import Response

from hub.config import MEMBER_KINDS
from hub.console import bp
from hub.console.format import page_number
from hub.console.security import actor, hub, may_manage_keys, member_in_scope, requires
from hub.errors import HubError
from hub.services import activity, admin, membership
from hub.services.admin import MemberFields, MemberFilter
from hub.services.membership import CONSENTS, IssuedKey
from hub.stix.timestamps import now_us
from hub.storage.membership import Member
from hub.storage.reports import SubmissionRow

Page = str | Response | tuple[str, int]


@bp.route("/members")
@requires("members.read")
def members() -> str:
    query = MemberFilter(
        text=request.args.get("q", ""),
        kind=request.args.get("kind", ""),
        sector=request.args.get("sector", ""),
        status=request.args.get("status", ""),
    )
    return render_template(
        "console/members.html",
        members=admin.search_members(hub(), query),
        query=query,
        kinds=MEMBER_KINDS,
        sectors=admin.sectors(hub()),
    )


def _member_form() -> dict[str, str]:
    form = request.form
    names = ("name", "kind", "sector", "consent", "contact", "aliases")
    return {name: form.get(name, "none" if name == "consent" else "") for name in names}


def _form_page(values: dict[str, str], error: str | None, member_id: str | None) -> Page:
    page = render_template(
        "console/member_form.html",
        values=values,
        error=error,
        member_id=member_id,
        kinds=MEMBER_KINDS,
        consents=CONSENTS,
    )
    return (page, 400) if error else page


@bp.route("/members/new", methods=["GET", "POST"])
@requires("members.write")
def member_new() -> Page:
    if request.method == "GET":
        return _form_page({"consent": "none", "kind": "industry"}, None, None)
    values = _member_form()
    try:
        member = admin.add_member(hub(), actor(), MemberFields(**values))
    except HubError as exc:
        return _form_page(values, exc.description, None)
    flash(f"Member {member.name} added. Issue it an API key below.", "info")
    return redirect(url_for("console.member", member_id=member.id))


def scoped_member(member_id: str) -> Member:
    """The member, if the user may see it (404 otherwise, as if it did not exist)."""
    member_in_scope(member_id)
    return membership.find_member(hub(), member_id)


def submissions_page(member_id: str, size: int) -> tuple[list[SubmissionRow], bool, int]:
    """The ?page= page of a member's submissions, newest first: its rows, whether more
    follow, and its number."""
    page = page_number(request.args.get("page"))
    rows = activity.recent_submissions(hub(), member_id, limit=size + 1, offset=(page - 1) * size)
    return rows[:size], len(rows) > size, page


@bp.route("/members/<member_id>")
@requires("members.read", "own.read")
def member(member_id: str) -> str:
    found = scoped_member(member_id)
    submissions, more, page = submissions_page(found.id, 20)
    return render_template(
        "console/member.html",
        member=found,
        keys=admin.list_keys(hub(), found.id),
        key_state=admin.key_state,
        now=now_us(),
        submissions=submissions,
        more=more,
        page=page,
        received=activity.received(hub(), found.id),
        manage_keys=may_manage_keys(found.id),
    )


@bp.route("/members/<member_id>/edit", methods=["GET", "POST"])
@requires("members.write")
def member_edit(member_id: str) -> Page:
    found = membership.find_member(hub(), member_id)
    if request.method == "GET":
        values = {
            "name": found.name,
            "kind": found.kind,
            "sector": found.sector or "",
            "consent": found.consent,
            "contact": found.contact or "",
            "aliases": ", ".join(found.aliases),
        }
        return _form_page(values, None, found.id)
    values = _member_form()
    try:
        admin.update_member(hub(), actor(), found.id, MemberFields(**values))
    except HubError as exc:
        return _form_page(values, exc.description, found.id)
    flash("Member saved.", "info")
    return redirect(url_for("console.member", member_id=found.id))


@bp.route("/members/<member_id>/status", methods=["POST"])
@requires("members.write")
def member_status(member_id: str) -> Response:
    status = request.form.get("status", "")
    try:
        found = admin.set_member_status(hub(), actor(), member_id, status)
    except HubError as exc:
        flash(exc.description, "error")
        return redirect(url_for("console.member", member_id=member_id))
    if found.status == "suspended":
        flash(f"{found.name} is suspended: its API keys are refused from now on.", "info")
    else:
        flash(f"{found.name} is reinstated: its unexpired, unrevoked keys work again.", "info")
    return redirect(url_for("console.member", member_id=found.id))


@bp.route("/members/<member_id>/submissions/<submission_id>")
@requires("members.read", "own.read")
def member_submission(member_id: str, submission_id: str) -> str:
    found = scoped_member(member_id)
    detail = activity.submission(hub(), found.id, submission_id)
    return render_template("console/submission.html", member=found, detail=detail)


# --- API keys ---------------------------------------------------------------------------------


def _keys_allowed(member_id: str) -> None:
    member_in_scope(member_id)
    if not may_manage_keys(member_id):
        abort(403)


def _issued_page(member_id: str, issued: IssuedKey, replaced: str | None = None) -> str:
    found = membership.find_member(hub(), member_id)
    return render_template(
        "console/key_issued.html", member=found, issued=issued, replaced=replaced
    )


@bp.route("/members/<member_id>/keys", methods=["POST"])
@requires("keys.write", "own.keys")
def key_issue(member_id: str) -> Page:
    _keys_allowed(member_id)
    scopes = [s for s in ("read", "write") if request.form.get(f"scope_{s}")]
    expires = request.form.get("expires_days", "").strip()
    try:
        if not scopes:
            raise HubError("choose read, write or both")
        if expires and not expires.isdigit():
            raise HubError("the expiry is a number of days")
        issued = admin.issue_key(
            hub(),
            actor(),
            member_id,
            scopes=scopes,
            label=request.form.get("label", ""),
            expires_days=int(expires) if expires else None,
        )
    except HubError as exc:
        flash(exc.description, "error")
        return redirect(url_for("console.member", member_id=member_id) + "#keys")
    return _issued_page(member_id, issued)


@bp.route("/members/<member_id>/keys/<key_id>/revoke", methods=["POST"])
@requires("keys.write", "own.keys")
def key_revoke(member_id: str, key_id: str) -> Response:
    _keys_allowed(member_id)
    try:
        admin.revoke_key(hub(), actor(), member_id, key_id)
    except HubError as exc:
        flash(exc.description, "error")
    else:
        flash(f"Key {key_id} is revoked.", "info")
    return redirect(url_for("console.member", member_id=member_id) + "#keys")


@bp.route("/members/<member_id>/keys/<key_id>/rotate", methods=["POST"])
@requires("keys.write", "own.keys")
def key_rotate(member_id: str, key_id: str) -> Page:
    _keys_allowed(member_id)
    grace = request.form.get("grace_hours", "0")
    try:
        issued = admin.rotate_key(
            hub(), actor(), member_id, key_id, grace_hours=int(grace) if grace.isdigit() else 0
        )
    except HubError as exc:
        flash(exc.description, "error")
        return redirect(url_for("console.member", member_id=member_id) + "#keys")
    return _issued_page(member_id, issued, replaced=key_id)
