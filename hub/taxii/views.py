"""TAXII 2.1 endpoints (specification sections 4 and 5): parse, call a service, render."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Blueprint, Response, current_app, g, request

from hub.errors import NotFound
from hub.observability import count_feed_read
from hub.services import accountability, ingest
from hub.services import collections as collection_service
from hub.services import objects as object_service
from hub.services.collections import VisibleCollection
from hub.taxii import params, render
from hub.taxii.media import TAXII_21, check_accept, check_content_type
from hub.taxii.paging import PageTokens, fingerprint
from hub.web import authenticate_request, current_hub, current_principal, read_body

bp = Blueprint("taxii", __name__)

_OBJECT_FILTERS = frozenset({"id", "type", "version", "spec_version", "added_after"})
_ONE_OBJECT_FILTERS = frozenset({"version", "spec_version", "added_after"})
_DELETE_FILTERS = frozenset({"version", "spec_version"})
_VERSIONS_FILTERS = frozenset({"spec_version", "added_after"})


def _tokens() -> PageTokens:
    tokens: PageTokens = current_app.extensions["hub.page_tokens"]
    return tokens


def taxii_response(
    body: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    response = Response(body, status=status, content_type=TAXII_21)
    if headers:
        response.headers.update(headers)
    return response


@bp.before_request
def _negotiate_and_authenticate() -> None:
    check_accept(request.headers.get("Accept"))
    authenticate_request()


def _log_read(view: VisibleCollection, seqs: Sequence[int]) -> None:
    """Feeds keep a log of who pulled which objects (docs/privacy.md)."""
    if view.collection.kind == "feed":
        principal = current_principal()
        accountability.record_read(current_hub(), principal, view.collection.id, seqs)
        count_feed_read(principal.kind, len(seqs))


def _check_root(api_root: str) -> None:
    if api_root != current_hub().settings.taxii.api_root:
        raise NotFound(f"no API root {api_root!r}")


def _base_url() -> str:
    public = current_hub().settings.server.public_url
    return (public.rstrip("/") + "/") if public else request.host_url


@bp.get("/")
def discovery() -> Response:
    taxii = current_hub().settings.taxii
    root_url = f"{_base_url()}taxii2/{taxii.api_root}/"
    body = {
        "title": taxii.title,
        "description": taxii.description,
        "default": root_url,
        "api_roots": [root_url],
    }
    if taxii.contact:
        body["contact"] = taxii.contact
    return taxii_response(render.dumps(body))


@bp.get("/<api_root>/")
def api_root(api_root: str) -> Response:
    _check_root(api_root)
    taxii = current_hub().settings.taxii
    body = {
        "title": taxii.title,
        "description": taxii.description,
        "versions": [TAXII_21],
        "max_content_length": taxii.max_content_length,
    }
    return taxii_response(render.dumps(body))


@bp.get("/<api_root>/status/<status_id>/")
def status(api_root: str, status_id: str) -> Response:
    _check_root(api_root)
    found = object_service.get_status(current_hub(), current_principal(), status_id)
    return taxii_response(render.dumps(render.status(found)))


@bp.get("/<api_root>/collections/")
def collections(api_root: str) -> Response:
    _check_root(api_root)
    views = collection_service.list_for(current_hub(), current_principal())
    body = {"collections": [render.collection(v) for v in views]} if views else {}
    return taxii_response(render.dumps(body))


@bp.get("/<api_root>/collections/<collection_id>/")
def collection(api_root: str, collection_id: str) -> Response:
    _check_root(api_root)
    view = collection_service.get_for(current_hub(), current_principal(), collection_id)
    return taxii_response(render.dumps(render.collection(view)))


def _readable(collection_id: str) -> VisibleCollection:
    return collection_service.get_for(
        current_hub(), current_principal(), collection_id, need="read"
    )


def _page_args(scope: str) -> tuple[int, int, str]:
    """(limit, position after which to start, filter fingerprint) for a paged endpoint."""
    taxii = current_hub().settings.taxii
    size = params.limit(request.args, taxii.default_page_size, taxii.max_page_size)
    prints = fingerprint(request.args.items(multi=True))
    token = request.args.get("next")
    after = _tokens().read(token, scope, prints) if token else 0
    return size, after, prints


@bp.get("/<api_root>/collections/<collection_id>/objects/")
def get_objects(api_root: str, collection_id: str) -> Response:
    _check_root(api_root)
    query = params.object_query(request.args, allow=_OBJECT_FILTERS)
    view = _readable(collection_id)
    scope = f"objects:{view.collection.id}"
    size, after, prints = _page_args(scope)
    page = object_service.read_page(current_hub(), view, query, after_seq=after, limit=size)
    _log_read(view, page.seqs)
    token = _tokens().issue(scope, prints, page.last_seq) if page.more else None
    return taxii_response(render.envelope(page, token), headers=render.page_headers(page))


@bp.post("/<api_root>/collections/<collection_id>/objects/")
def add_objects(api_root: str, collection_id: str) -> Response:
    _check_root(api_root)
    hub = current_hub()
    check_content_type(request.headers.get("Content-Type"))
    body = read_body(hub.settings.taxii.max_content_length)
    _submission, status = ingest.submit(
        hub,
        current_principal(),
        collection_id,
        body,
        request.headers["Content-Type"],
        channel="taxii",
        request_id=g.get("request_id"),
    )
    return taxii_response(render.dumps(render.status(status)), status=202)


@bp.get("/<api_root>/collections/<collection_id>/manifest/")
def manifest(api_root: str, collection_id: str) -> Response:
    _check_root(api_root)
    query = params.object_query(request.args, allow=_OBJECT_FILTERS)
    view = _readable(collection_id)
    scope = f"manifest:{view.collection.id}"
    size, after, prints = _page_args(scope)
    page = object_service.read_manifest(current_hub(), view, query, after_seq=after, limit=size)
    token = _tokens().issue(scope, prints, page.rows[-1].seq) if page.more else None
    return taxii_response(
        render.manifest(page.rows, page.more, token), headers=render.rows_headers(page.rows)
    )


@bp.get("/<api_root>/collections/<collection_id>/objects/<object_id>/")
def get_object(api_root: str, collection_id: str, object_id: str) -> Response:
    _check_root(api_root)
    query = params.object_query(request.args, allow=_ONE_OBJECT_FILTERS)
    view = _readable(collection_id)
    scope = f"object:{view.collection.id}:{object_id}"
    size, after, prints = _page_args(scope)
    page = object_service.read_page(
        current_hub(), view, query, after_seq=after, limit=size, object_id=object_id
    )
    _log_read(view, page.seqs)
    token = _tokens().issue(scope, prints, page.last_seq) if page.more else None
    return taxii_response(render.envelope(page, token), headers=render.page_headers(page))


@bp.delete("/<api_root>/collections/<collection_id>/objects/<object_id>/")
def delete_object(api_root: str, collection_id: str, object_id: str) -> Response:
    _check_root(api_root)
    query = params.object_query(request.args, allow=_DELETE_FILTERS, default_version="all")
    object_service.delete_object(
        current_hub(), current_principal(), collection_id, object_id, query
    )
    return taxii_response(b"{}")


@bp.get("/<api_root>/collections/<collection_id>/objects/<object_id>/versions/")
def object_versions(api_root: str, collection_id: str, object_id: str) -> Response:
    _check_root(api_root)
    query = params.object_query(request.args, allow=_VERSIONS_FILTERS)
    view = _readable(collection_id)
    scope = f"versions:{view.collection.id}:{object_id}"
    size, after, prints = _page_args(scope)
    page = object_service.read_versions(
        current_hub(),
        view,
        object_id,
        query,
        after_version_us=after if request.args.get("next") else None,
        limit=size,
    )
    token = _tokens().issue(scope, prints, page.rows[-1].version_us) if page.more else None
    return taxii_response(
        render.versions(page.rows, page.more, token), headers=render.rows_headers(page.rows)
    )
