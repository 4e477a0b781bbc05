"""Request helpers shared by the blueprints: who is asking, the hub, and a bounded body."""

from __future__ import annotations

import io
from contextlib import ExitStack
from typing import cast

from flask import current_app, g, request
from werkzeug.datastructures import Authorization

from hub.auth.principal import Principal
from hub.errors import PayloadTooLarge, Unauthorized
from hub.services import limits, membership
from hub.services.context import Hub

_READ_SIZE = 1 << 20
_HOW = "send an API key: HTTP Basic (key id, secret) or Bearer (secret)"


def principal_from(hub: Hub, auth: Authorization | None) -> Principal:
    """The member behind the request's credentials, or Unauthorized."""
    if auth is not None and auth.type == "basic" and auth.username and auth.password:
        return membership.authenticate(hub, auth.username, auth.password)
    if auth is not None and auth.type == "bearer" and auth.token:
        return membership.authenticate(hub, None, auth.token)
    raise Unauthorized(_HOW)


def current_hub() -> Hub:
    hub: Hub = current_app.extensions["hub"]
    return hub


def current_principal() -> Principal:
    """The principal a blueprint's before_request authenticated."""
    principal: Principal = g.principal
    return principal


def authenticate_request() -> None:
    """before_request hook: authenticate the API key, or answer 401."""
    hub = current_hub()
    g.principal = principal_from(hub, request.authorization)
    limits.check_request(hub, g.principal.key_id)


def share_reads() -> None:
    """before_request hook: a GET's reads (key, collection, page) share one database connection
    and transaction (see Database.shared_reads)."""
    if request.method in ("GET", "HEAD"):
        scope = ExitStack()
        scope.enter_context(current_hub().db.shared_reads())
        g.shared_reads = scope


def end_shared_reads(_error: BaseException | None) -> None:
    """teardown_request hook: give back the connection share_reads() took."""
    scope: ExitStack | None = g.pop("shared_reads", None)
    if scope is not None:
        scope.close()


def read_body(limit: int) -> bytearray:
    """The request body, or 413 if it is larger than `limit` bytes, declared or not. It is read
    into one buffer, so a 100 MB body is held once rather than gathered and then copied."""
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"the body is {length} bytes; the limit is {limit}")
    # Werkzeug cuts a chunked body (no Content-Length) at max_content_length without an error;
    # read one byte more than the limit so an oversized body is seen, and refused.
    request.max_content_length = limit + 1
    stream = cast(io.RawIOBase, request.stream)
    if length is not None:
        body = bytearray(length)
        got = 0
        with memoryview(body) as view:
            while got < length and (n := stream.readinto(view[got : got + _READ_SIZE])):
                got += n
        del body[got:]
        return body
    body = bytearray()
    while chunk := stream.read(_READ_SIZE):
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"the body is larger than the limit of {limit} bytes")
    return body
