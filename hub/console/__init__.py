"""The admin web console: server-rendered pages for admins, analysts and member-admins.

Views are thin: they read the form, call a service, and render a template. `init_app`
registers the blueprint at /console with its session store and CSRF protection.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template, request
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException

from hub.console import format as fmt
from hub.console.security import can, check_csrf, current_user, load_user
from hub.console.sessions import ConsoleSessionInterface
from hub.errors import HubError
from hub.services.context import Hub

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static")


def init_app(app: Flask, hub: Hub) -> None:
    """Serve the console at /console (unless console.enabled is false)."""
    if not hub.settings.console.enabled:
        return
    app.session_interface = ConsoleSessionInterface(hub)
    # The token lives as long as the session it belongs to (idle and absolute timeouts).
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.config.setdefault("WTF_CSRF_FIELD_NAME", "csrf_token")
    from hub.console import (  # noqa: F401 - each module adds its views to bp
        views_audit,
        views_auth,
        views_connectors,
        views_dashboard,
        views_members,
        views_objects,
        views_policy,
        views_receipts,
        views_review,
        views_users,
    )

    app.register_blueprint(bp, url_prefix="/console")


@bp.before_request
def _before() -> None:
    load_user()
    check_csrf()


@bp.after_request
def _headers(response: Any) -> Any:
    # Console pages are private and must not be framed or cached by a shared cache.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    return response


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    if not request.path.startswith("/console"):
        return {}
    from hub.console.security import hub

    return {
        "csrf_token": generate_csrf,
        "can": can,
        "me": current_user(),
        "fmt": fmt,
        "hub_title": hub().settings.taxii.title,
    }


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return (
        render_template("console/error.html", status=status, title=title, message=message),
        status,
    )


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError) -> tuple[str, int]:
    return error_page(
        400,
        "The form could not be accepted",
        "It was missing its security token or had expired. Go back, reload the page and try again.",
    )


@bp.errorhandler(HubError)
def _hub_error(error: HubError) -> tuple[str, int]:
    return error_page(error.status, error.title, error.description or error.title)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    messages = {
        403: "Your role does not allow this page.",
        404: "There is no such page, or it is not yours to see.",
        405: "This page does not accept that kind of request.",
    }
    return error_page(status, error.name, messages.get(status, error.description or ""))
