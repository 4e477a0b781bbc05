"""Console users (admins only): add, change role, require a second factor, reset it after a
lost phone, suspend and reinstate."""

from __future__ import annotations

import secrets

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from hub.auth.roles import ROLES
from hub.console import bp
from hub.console.security import actor, hub, requires
from hub.errors import HubError
from hub.services import membership, users

Page = str | Response | tuple[str, int]


@bp.route("/users", endpoint="users")
@requires("users.manage")
def users_list() -> str:
    members = membership.list_members(hub())
    return render_template(
        "console/users.html",
        users=users.list_users(hub()),
        names={m.id: m.name for m in members},
        members=members,
        roles=ROLES,
        require_all=hub().settings.console.require_totp,
    )


@bp.route("/users/new", methods=["POST"])
@requires("users.manage")
def user_new() -> Page:
    form = request.form
    password = form.get("password", "")
    generated = not password
    if generated:
        password = secrets.token_urlsafe(18)
    try:
        created = users.create_user(
            hub(),
            actor(),
            form.get("email", ""),
            password,
            form.get("role", ""),
            member_id=form.get("member_id") or None,
            totp_required=bool(form.get("totp_required")),
        )
    except HubError as exc:
        flash(exc.description, "error")
        return redirect(url_for("console.users"))
    if generated:
        return render_template("console/user_created.html", user=created, password=password)
    flash(f"User {created.email} added.", "info")
    return redirect(url_for("console.users"))


@bp.route("/users/<user_id>", methods=["POST"])
@requires("users.manage")
def user_update(user_id: str) -> Response:
    form = request.form
    try:
        changed = users.update_user(
            hub(),
            actor(),
            user_id,
            role=form.get("role") or None,
            member_id=form.get("member_id") or None,
            totp_required=bool(form.get("totp_required")) if "role" in form else None,
            status=form.get("status") or None,
        )
    except HubError as exc:
        flash(exc.description, "error")
    else:
        flash(f"User {changed.email} saved.", "info")
    return redirect(url_for("console.users"))


@bp.route("/users/<user_id>/totp-reset", methods=["POST"])
@requires("users.manage")
def user_totp_reset(user_id: str) -> Response:
    try:
        changed = users.reset_totp(hub(), actor(), user_id)
    except HubError as exc:
        flash(exc.description, "error")
    else:
        flash(f"Two-step sign-in of {changed.email} is reset; its sessions have ended.", "info")
    return redirect(url_for("console.users"))
