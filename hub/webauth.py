"""Reading API-key credentials from an HTTP request, for the TAXII and REST blueprints."""

from __future__ import annotations

from werkzeug.datastructures import Authorization

from hub.auth.principal import Principal
from hub.errors import Unauthorized
from hub.services import membership
from hub.services.context import Hub

_HOW = "send an API key: HTTP Basic (key id, secret) or Bearer (secret)"


def principal_from(hub: Hub, auth: Authorization | None) -> Principal:
    """The member behind the request's credentials, or Unauthorized."""
    if auth is not None and auth.type == "basic" and auth.username and auth.password:
        return membership.authenticate(hub, auth.username, auth.password)
    if auth is not None and auth.type == "bearer" and auth.token:
        return membership.authenticate(hub, None, auth.token)
    raise Unauthorized(_HOW)
