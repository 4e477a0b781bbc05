"""The OpenAPI description of the member REST API, served at /api/openapi.json (public)."""

from __future__ import annotations

from importlib.resources import files

from flask import Blueprint, Response

bp = Blueprint("openapi", __name__)

SPEC = files("hub.api").joinpath("openapi.json")


@bp.get("/api/openapi.json")
def openapi() -> Response:
    return Response(SPEC.read_bytes(), content_type="application/json")
