"""Who is signed in to the console, what they may do, and CSRF protection of every form.

Every console view is marked with the permissions it needs (`requires`) or as open to
anyone (`public`); a test walks the URL map and fails on a view with neither.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort, current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from hub.auth.roles import allows
from hub.errors import NotFound
from hub.services import users
from hub.services.context import Hub
from hub.services.users import Actor
from hub.storage.membership import User

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def hub() -> Hub:
    found: Hub = current_app.extensions["hub"]
    return found


def current_user() -> User | None:
    user: User | None = g.get("user")
    return user


def user() -> User:
    """The signed-in user (views marked with `requires` always have one)."""
    found = current_user()
    assert found is not None
    return found


def actor() -> Actor:
    return Actor(user().email, request.remote_addr)


def can(permission: str) -> bool:
    found = current_user()
    return found is not None and allows(found.role, permission)


def load_user() -> None:
    """before_request: the user of a fully signed-in session that is still valid."""
    g.user = None
    if session.get("stage") != "signed-in":
        return
    try:
        found = users.get_user(hub(), str(session.get("user_id")))
    except NotFound:
        found = None
    if found is None or not users.may_act(hub(), found):
        cast(Any, session).end()
        return
    g.user = found


def check_csrf() -> None:
    """before_request: every state-changing request carries the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CSRFError(exc.args[0] if exc.args else "The CSRF token is missing.") from None


def requires(*permissions: str) -> Callable[[F], F]:
    """The view needs a signed-in user holding any one of `permissions`; others get 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            found = current_user()
            if found is None:
                return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
            if not any(allows(found.role, p) for p in permissions):
                abort(403)
            return view(*args, **kwargs)

        checked.console_permissions = permissions  # type: ignore[attr-defined]
        return cast(F, checked)

    return decorate


def public(view: F) -> F:
    """The view is open without signing in (sign-in itself, the static files)."""
    view.console_permissions = ()  # type: ignore[attr-defined]
    return view


def member_in_scope(member_id: str) -> None:
    """404 unless the user may see this member: any member with members.read, else only
    their own organisation (a member-admin never learns another member exists)."""
    found = user()
    if allows(found.role, "members.read"):
        return
    if allows(found.role, "own.read") and found.member_id == member_id:
        return
    abort(404)


def may_manage_keys(member_id: str) -> bool:
    found = user()
    if allows(found.role, "keys.write"):
        return True
    return allows(found.role, "own.keys") and found.member_id == member_id
