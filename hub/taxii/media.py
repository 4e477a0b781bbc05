"""TAXII 2.1 media types and content negotiation (section 1.6.8 of the specification)."""

from __future__ import annotations

from hub.errors import NotAcceptable, UnsupportedMediaType

TAXII_21 = "application/taxii+json;version=2.1"
STIX_21 = "application/stix+json;version=2.1"


def _media_ranges(header: str) -> list[tuple[str, dict[str, str]]]:
    ranges = []
    for part in header.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        params = {}
        for piece in pieces[1:]:
            name, _, value = piece.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        ranges.append((pieces[0].lower(), params))
    return ranges


def _is_taxii_21(media_type: str, params: dict[str, str]) -> bool:
    return media_type == "application/taxii+json" and params.get("version", "2.1") == "2.1"


def check_accept(header: str | None) -> None:
    """406 unless the Accept header admits TAXII 2.1 JSON."""
    for media_type, params in _media_ranges(header or ""):
        if params.get("q") in ("0", "0.0", "0.00", "0.000"):
            continue
        if _is_taxii_21(media_type, params):
            return
    raise NotAcceptable(
        f"this server answers with {TAXII_21}; the request's Accept header was {header!r}"
    )


def check_content_type(header: str | None) -> None:
    """415 unless the body is declared as TAXII 2.1 JSON."""
    ranges = _media_ranges(header or "")
    if len(ranges) == 1 and _is_taxii_21(*ranges[0]):
        return
    raise UnsupportedMediaType(f"the body must be sent as Content-Type: {TAXII_21}, not {header!r}")
