"""create_app(settings): the one place the Flask application is assembled."""

from __future__ import annotations

import logging

from flask import Flask, Response, redirect, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from hub import console, observability
from hub.api import bp as api_bp
from hub.api.openapi import bp as openapi_bp
from hub.api.transparency import bp as transparency_bp
from hub.config import Settings, load_settings
from hub.errors import HubError, ServiceUnavailable, title_for
from hub.services import Hub
from hub.services.worker import Worker
from hub.taxii import bp as taxii_bp
from hub.taxii import render
from hub.taxii.media import TAXII_21
from hub.taxii.paging import PageTokens
from hub.web import end_shared_reads, share_reads

log = logging.getLogger(__name__)

# Seconds a client is told to wait when the database is unavailable.
_DB_RETRY_S = 2


def create_app(
    settings: Settings | None = None, hub: Hub | None = None, *, start_worker: bool = True
) -> Flask:
    """Build the WSGI application. The database must already be initialised (`hub init`).

    With no Redis configured, the app runs the submission pipeline on a background thread
    (unless start_worker is False); with Redis, `hub worker` processes do.
    """
    settings = settings or load_settings()
    hub = hub or Hub.open(settings)
    # No app-wide static route: the console's blueprint serves the only files the hub has.
    app = Flask(__name__, static_folder=None)
    app.config.update(
        SECRET_KEY=hub.secret("session_key"),
        # Werkzeug refuses larger bodies before they are read; TAXII views also check up front.
        MAX_CONTENT_LENGTH=settings.taxii.max_content_length,
        JSON_SORT_KEYS=False,
    )
    app.extensions["hub"] = hub
    app.extensions["hub.page_tokens"] = PageTokens(hub.secret("session_key"))
    app.before_request(share_reads)
    app.teardown_request(end_shared_reads)
    app.register_blueprint(taxii_bp, url_prefix="/taxii2")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(transparency_bp)
    app.register_blueprint(openapi_bp)
    observability.init_app(app)
    console.init_app(app, hub)
    if settings.console.enabled:
        app.add_url_rule("/", "root", lambda: redirect("/console/"))
    _register_error_handlers(app)
    hops = settings.server.trusted_proxies
    if hops:
        # The client's address, scheme and host as the outermost trusted proxy saw them; with
        # no proxy trusted the headers are left alone, so nobody can claim another address.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    if start_worker and not settings.queue.redis_url:
        worker = Worker(hub, kind="web")
        worker.start_thread()
        app.extensions["hub.worker"] = worker
    return app


def _error_response(error: HubError) -> Response:
    if request.path.startswith("/console/"):
        page, status = console.error_page(error.status, error.title, error.description)
        return Response(page, status=status, content_type="text/html; charset=utf-8")
    if request.path.startswith(("/api/", "/transparency", "/metrics", "/readyz", "/healthz")):
        problem = {"type": "about:blank", "title": error.title, "status": error.status}
        if error.description:
            problem["detail"] = error.description
        if error.details:
            problem["details"] = error.details
        body, media_type = render.dumps(problem), "application/problem+json"
    else:
        body, media_type = render.dumps(error.to_taxii()), TAXII_21
    response = Response(body, status=error.status, content_type=media_type)
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(int(retry_after))
    if error.status == 401:
        response.headers.add("WWW-Authenticate", 'Basic realm="hub", charset="UTF-8"')
        response.headers.add("WWW-Authenticate", 'Bearer realm="hub"')
    return response


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HubError)
    def _hub_error(error: HubError) -> Response:
        return _error_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        hub_error = HubError(error.description or "")
        hub_error.status = status
        hub_error.title = title_for(status, error.name)
        if status == 413:
            limit = app.config["MAX_CONTENT_LENGTH"]
            hub_error.description = f"the body is larger than the limit of {limit} bytes"
        response = _error_response(hub_error)
        if status == 405 and error.response is None:
            allowed = getattr(error, "valid_methods", None)
            if allowed:
                response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.errorhandler(OperationalError)
    def _database_unavailable(error: OperationalError) -> Response:
        # The database went away (a restart, a failover, a lost connection) or is too busy:
        # nothing the client did, and worth retrying. No trace, no statement: one line.
        log.warning(
            "database unavailable on %s %s: %s",
            request.method,
            request.path,
            type(error.orig).__name__ if error.orig is not None else type(error).__name__,
        )
        return _error_response(
            ServiceUnavailable("the database is unavailable for a moment; retry", _DB_RETRY_S)
        )

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error_response(HubError("the server failed to process the request"))
