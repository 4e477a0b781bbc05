"""Signing in and out (password, then a TOTP code when the account has one), and one's own
account: password and second factor."""

from __future__ import annotations

from typing import Any, cast

from flask import flash, redirect, render_template, request, session, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from hub.auth import totp
from hub.console import bp
from hub.console.security import actor, current_user, hub, public, requires, user
from hub.console.sessions import ConsoleSession
from hub.errors import HubError
from hub.services import users
from hub.services.users import SignInResult

Page = str | Response | tuple[str, int] | tuple[str, int, dict[str, str]]


def _session() -> ConsoleSession:
    return cast(ConsoleSession, session)


def _next_url(target: str) -> str:
    """Where to go after signing in: the console page named by ?next=, else the home page."""
    if target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("console.home")


def _after(result: SignInResult) -> Page:
    """Move the session on according to what the last step of signing in said."""
    if result.outcome == "locked":
        message = f"Too many failed attempts. Try again in {result.retry_after} seconds."
        return _sign_in_page(message, 429, {"Retry-After": str(result.retry_after)})
    assert result.user is not None
    current = _session()
    target = request.values.get("next") or str(current.get("next") or "")
    current.clear()
    current.regenerate()  # a new token at every change of who is signed in
    current["user_id"] = result.user.id
    current["next"] = target
    if result.outcome == "ok":
        current["stage"] = "signed-in"
        current.pop("next", None)
        return redirect(_next_url(target))
    if result.outcome == "totp":
        current["stage"] = "totp"
        return redirect(url_for("console.sign_in_code"))
    current["stage"] = "enrol"
    return redirect(url_for("console.sign_in_enrol"))


def _sign_in_page(
    error: str | None = None, status: int = 200, headers: dict[str, str] | None = None
) -> Page:
    expired = _session().expired
    page = render_template(
        "console/sign_in.html", error=error, expired=expired, next=request.values.get("next", "")
    )
    return page, status, headers or {}


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in() -> Page:
    if current_user() is not None:
        return redirect(url_for("console.home"))
    if request.method == "GET":
        return _sign_in_page()
    result = users.check_password(
        hub(),
        request.form.get("email", ""),
        request.form.get("password", ""),
        request.remote_addr,
    )
    if result.outcome == "refused":
        return _sign_in_page("The e-mail address or the password is not right.", 401)
    return _after(result)


def _pending(stage: str) -> str | None:
    if session.get("stage") != stage:
        return None
    return str(session.get("user_id"))


@bp.route("/sign-in/code", methods=["GET", "POST"])
@public
def sign_in_code() -> Page:
    user_id = _pending("totp")
    if user_id is None:
        return redirect(url_for("console.sign_in"))
    if request.method == "GET":
        return render_template("console/sign_in_code.html", error=None)
    result = users.check_totp(hub(), user_id, request.form.get("code", ""), request.remote_addr)
    if result.outcome == "refused":
        page = render_template("console/sign_in_code.html", error="That code is not right.")
        return page, 401
    return _after(result)


def _pending_secret() -> bytes:
    """The TOTP secret being set up in this session (made on first use, kept sealed)."""
    box = totp.SecretBox(hub().secret("session_key"))
    sealed = session.get("totp_pending")
    if not sealed:
        secret = totp.new_secret()
        session["totp_pending"] = box.seal(secret)
        return secret
    return box.open(str(sealed))


def _enrol_context(email: str) -> dict[str, Any]:
    secret = _pending_secret()
    uri = totp.provisioning_uri(secret, email, hub().settings.console.totp_issuer)
    # The QR code is drawn from our own URI (base32 and URL-quoted text): no markup can enter.
    return {"secret": totp.as_base32(secret), "uri": uri, "qr": Markup(totp.qr_svg(uri))}  # noqa: S704


@bp.route("/sign-in/enrol", methods=["GET", "POST"])
@public
def sign_in_enrol() -> Page:
    """An account that must have a second factor and has none sets it up before going on."""
    user_id = _pending("enrol")
    if user_id is None:
        return redirect(url_for("console.sign_in"))
    pending = users.get_user(hub(), user_id)
    error = None
    if request.method == "POST":
        try:
            enrolled = users.enrol_totp(
                hub(),
                users.Actor(pending.email, request.remote_addr),
                pending.id,
                _pending_secret(),
                request.form.get("code", ""),
            )
        except HubError as exc:
            error = exc.description
        else:
            return _after(users.finish_enrolment(hub(), enrolled, request.remote_addr))
    return render_template(
        "console/enrol.html", error=error, required=True, **_enrol_context(pending.email)
    )


@bp.route("/sign-out", methods=["POST"])
@public
def sign_out() -> Response:
    found = current_user()
    if found is not None:
        users.sign_out(hub(), found, request.remote_addr)
    _session().end()
    flash("You are signed out.", "info")
    return redirect(url_for("console.sign_in"))


@bp.route("/")
@requires("dashboard", "own.read")
def home() -> Response:
    if user().role == "member-admin":
        return redirect(url_for("console.member", member_id=user().member_id))
    return redirect(url_for("console.dashboard"))


# --- one's own account ------------------------------------------------------------------------


def _any_role() -> tuple[str, ...]:
    return ("dashboard", "own.read")


@bp.route("/account")
@requires(*_any_role())
def account() -> str:
    me = user()
    return render_template(
        "console/account.html",
        member_name=users.member_name(hub(), me.member_id),
        totp_needed=users.totp_needed(hub(), me),
    )


@bp.route("/account/password", methods=["POST"])
@requires(*_any_role())
def account_password() -> Response:
    form = request.form
    if form.get("new_password") != form.get("confirm_password"):
        flash("The new password and its confirmation differ.", "error")
        return redirect(url_for("console.account"))
    try:
        users.change_password(
            hub(),
            actor(),
            user().id,
            form.get("current_password", ""),
            form.get("new_password", ""),
            keep_token=_session().token,
        )
    except HubError as exc:
        flash(exc.description, "error")
    else:
        flash("Your password is changed; your other sessions have ended.", "info")
    return redirect(url_for("console.account"))


@bp.route("/account/totp", methods=["GET", "POST"])
@requires(*_any_role())
def account_totp() -> Page:
    me = user()
    error = None
    if request.method == "POST":
        try:
            users.enrol_totp(hub(), actor(), me.id, _pending_secret(), request.form.get("code", ""))
        except HubError as exc:
            error = exc.description
        else:
            session.pop("totp_pending", None)
            flash("Two-step sign-in is on: sign-ins now ask for a code from your app.", "info")
            return redirect(url_for("console.account"))
    return render_template(
        "console/enrol.html", error=error, required=False, **_enrol_context(me.email)
    )


@bp.route("/account/totp/disable", methods=["POST"])
@requires(*_any_role())
def account_totp_disable() -> Response:
    try:
        users.disable_totp(hub(), actor(), user().id, request.form.get("password", ""))
    except HubError as exc:
        flash(exc.description, "error")
    else:
        flash("Two-step sign-in is off.", "info")
    return redirect(url_for("console.account"))
