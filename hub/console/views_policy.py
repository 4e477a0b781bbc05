"""Feeds and the sharing policy: who reads each feed, the TLP x audience matrix and the rest of
the rules (each changed in two steps: propose, then confirm after seeing its effect), the
policy versions, and the rotation of the pseudonym key."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from hub.console import bp
from hub.console.security import actor, hub, requires
from hub.errors import HubError
from hub.services import collections as collection_service
from hub.services import policy_admin
from hub.services import policy_rules as policy_rules_service
from hub.sharing.policy import (
    ACTIONS,
    DETECTORS,
    NEVER_RELEASED,
    UNKNOWN_MARKING_ACTIONS,
    required_properties,
)
from hub.stix.markings import TLP_LEVELS
from hub.stix.timestamps import now_us
from hub.storage.reports import DAY_US

Page = str | Response | tuple[str, int]


def _readers_since() -> int:
    return now_us() - 30 * DAY_US


@bp.route("/feeds")
@requires("policy.read")
def feeds(error: str | None = None) -> Page:
    from hub.services import dashboard

    version, policy = policy_admin.matrix(hub())
    collections = collection_service.list_all(hub())
    page = render_template(
        "console/feeds.html",
        version=version,
        policy=policy,
        collections=collections,
        levels=TLP_LEVELS,
        never=NEVER_RELEASED,
        readers=dashboard.feed_readers(hub(), _readers_since()),
        epochs=policy_admin.epochs(hub()),
        error=error,
    )
    return (page, 400) if error else page


def _matrix_change() -> policy_admin.Change:
    _, policy = policy_admin.matrix(hub())
    tlp = {f.alias: set(request.form.getlist(f"tlp-{f.alias}")) for f in policy.feeds}
    identity = {f.alias: request.form.get(f"identity-{f.alias}", f.identity) for f in policy.feeds}
    return policy_admin.matrix_change(tlp, identity)


def _base_version() -> int:
    base = request.form.get("base_version", "")
    return int(base) if base.isdigit() else -1


def _confirm(proposal: policy_admin.Proposal, apply_to: str, back_to: str) -> str:
    """The confirmation page: what changes and its effect, with the form's values carried."""
    carried = [
        (name, value)
        for name in request.form
        if name not in ("csrf_token", "note")
        for value in request.form.getlist(name)
    ]
    return render_template(
        "console/policy_confirm.html",
        proposal=proposal,
        carried=carried,
        apply_to=apply_to,
        back_to=back_to,
    )


def _applied(number: int) -> Response:
    flash(f"Policy version {number} is in force: it decides every release from now on.", "info")
    return redirect(url_for("console.policy_versions"))


@bp.route("/feeds/propose", methods=["POST"])
@requires("policy.write")
def feeds_propose() -> Page:
    try:
        proposal = policy_admin.propose_change(
            hub(), _matrix_change(), base_version=_base_version()
        )
    except HubError as exc:
        return feeds(exc.description)
    if not proposal.changes:
        flash("Nothing would change.", "info")
        return redirect(url_for("console.feeds"))
    return _confirm(proposal, url_for("console.feeds_apply"), url_for("console.feeds"))


@bp.route("/feeds/apply", methods=["POST"])
@requires("policy.write")
def feeds_apply() -> Page:
    try:
        number = policy_admin.apply_change(
            hub(),
            actor(),
            _matrix_change(),
            base_version=_base_version(),
            note=request.form.get("note", ""),
        )
    except HubError as exc:
        return feeds(exc.description)
    return _applied(number)


@bp.route("/policy/rules")
@requires("policy.read")
def policy_rules(error: HubError | None = None) -> Page:
    rules = policy_rules_service.page(hub())
    problems: list[str] = (error.details or {}).get("problems", []) if error is not None else []
    page = render_template(
        "console/policy_rules.html",
        rules=rules,
        levels=TLP_LEVELS,
        unknown_actions=UNKNOWN_MARKING_ACTIONS,
        actions=ACTIONS,
        detectors=DETECTORS,
        required=required_properties,
        # After a refused change the form shows what was typed, with what is wrong.
        typed=request.form if error is not None else None,
        error=error.description if error is not None else None,
        problems=problems,
        # The per-type lists are folded away unless a problem is in them.
        open_lists=any(p.startswith(("allowed properties", "new type")) for p in problems),
    )
    return (page, error.status) if error is not None else page


@bp.route("/policy/rules/propose", methods=["POST"])
@requires("policy.write")
def policy_rules_propose() -> Page:
    change = policy_rules_service.rules_change(request.form)
    try:
        proposal = policy_admin.propose_change(hub(), change, base_version=_base_version())
    except HubError as exc:
        return policy_rules(exc)
    if not proposal.changes:
        flash("Nothing would change.", "info")
        return redirect(url_for("console.policy_rules"))
    return _confirm(
        proposal, url_for("console.policy_rules_apply"), url_for("console.policy_rules")
    )


@bp.route("/policy/rules/apply", methods=["POST"])
@requires("policy.write")
def policy_rules_apply() -> Page:
    change = policy_rules_service.rules_change(request.form)
    try:
        number = policy_admin.apply_change(
            hub(), actor(), change, base_version=_base_version(), note=request.form.get("note", "")
        )
    except HubError as exc:
        return policy_rules(exc)
    return _applied(number)


@bp.route("/policy/versions")
@requires("policy.read")
def policy_versions() -> str:
    return render_template("console/policy_versions.html", versions=policy_admin.history(hub()))


@bp.route("/policy/pseudonyms/rotate", methods=["GET", "POST"])
@requires("policy.write")
def policy_rotate() -> Page:
    if request.method == "GET":
        return render_template("console/rotate.html", epochs=policy_admin.epochs(hub()))
    if request.form.get("confirm") != "rotate":
        flash("Type rotate to confirm.", "error")
        return redirect(url_for("console.policy_rotate"))
    epoch = policy_admin.rotate_pseudonyms(hub(), actor())
    flash(f"Pseudonym key epoch {epoch} started: new objects get new pseudonyms.", "info")
    return redirect(url_for("console.feeds"))
