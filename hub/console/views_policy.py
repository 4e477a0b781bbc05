"""Feeds and the sharing policy: who reads each feed, the TLP x audience matrix (changed in
two steps: propose, then confirm after seeing its effect), the policy versions, and the
rotation of the pseudonym key."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from hub.console import bp
from hub.console.security import actor, hub, requires
from hub.errors import HubError
from hub.services import collections as collection_service
from hub.services import policy_admin
from hub.sharing.policy import NEVER_RELEASED
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


def _matrix_form() -> tuple[dict[str, set[str]], dict[str, str], int]:
    _, policy = policy_admin.matrix(hub())
    tlp = {f.alias: set(request.form.getlist(f"tlp-{f.alias}")) for f in policy.feeds}
    identity = {f.alias: request.form.get(f"identity-{f.alias}", f.identity) for f in policy.feeds}
    base = request.form.get("base_version", "")
    return tlp, identity, int(base) if base.isdigit() else -1


@bp.route("/feeds/propose", methods=["POST"])
@requires("policy.write")
def feeds_propose() -> Page:
    tlp, identity, base = _matrix_form()
    try:
        proposal = policy_admin.propose(hub(), tlp, identity, base_version=base)
    except HubError as exc:
        return feeds(exc.description)
    if not proposal.changes:
        flash("Nothing would change.", "info")
        return redirect(url_for("console.feeds"))
    return render_template(
        "console/feeds_confirm.html",
        proposal=proposal,
        tlp=tlp,
        identity=identity,
        levels=TLP_LEVELS,
    )


@bp.route("/feeds/apply", methods=["POST"])
@requires("policy.write")
def feeds_apply() -> Page:
    tlp, identity, base = _matrix_form()
    try:
        number = policy_admin.apply(
            hub(), actor(), tlp, identity, base_version=base, note=request.form.get("note", "")
        )
    except HubError as exc:
        return feeds(exc.description)
    flash(f"Policy version {number} is in force: it decides every release from now on.", "info")
    return redirect(url_for("console.policy_versions"))


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
