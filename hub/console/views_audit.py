"""The audit trail (who did what, in the console, the CLI and the API) and the feed read log
(which member pulled which feed when; government access above all), filtered, paged and
exported as CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Response, render_template, request

from hub.console import bp
from hub.console.format import day, page_number
from hub.console.security import actor, hub, requires
from hub.services import accountability, membership, users
from hub.services import collections as collection_service
from hub.services.accountability import AUDIT_COLUMNS, READ_LOG_COLUMNS, as_csv

DAY_US = 86_400_000_000
# Actions people filter by most; any other pattern (with * as a wildcard) can be typed.
COMMON_ACTIONS = (
    "console.*",
    "console.sign_in_failed",
    "member.*",
    "key.*",
    "review.*",
    "policy.*",
    "keys.rotate-pseudonyms",
    "user.*",
    "retention.*",
    "audit.export",
    "object.view",
)


def _range() -> tuple[int | None, int | None]:
    since = day(request.args.get("since", ""))
    until = day(request.args.get("until", ""))
    return since, until + DAY_US if until is not None else None


def _args_without_page() -> Callable[[int], str]:
    kept = {k: v for k, v in request.args.items() if k not in ("page", "format") and v}
    return lambda page: urlencode({**kept, "page": page})


def _csv(name: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> Response:
    users.record(hub(), actor(), "audit.export", target=name, detail={"rows": len(rows)})
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(
        as_csv(rows, columns),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="hub-{name}-{stamp}.csv"'},
    )


def _log(
    name: str,
    fetch: Callable[..., list[dict[str, Any]]],
    columns: tuple[str, ...],
    filters: dict[str, Any],
    template: str,
    **context: Any,
) -> str | Response:
    """One log page (newest first, paged), or all of its filtered rows as CSV."""
    if request.args.get("format") == "csv":
        return _csv(name, fetch(hub(), **filters), columns)
    size, page = hub().settings.console.page_size, page_number(request.args.get("page"))
    rows = fetch(hub(), **filters, limit=size + 1, offset=(page - 1) * size, newest_first=True)
    members = membership.list_members(hub())
    return render_template(
        template,
        rows=rows[:size],
        more=len(rows) > size,
        page=page,
        args=_args_without_page(),
        members=members,
        names={m.id: m.name for m in members},
        **context,
    )


@bp.route("/audit")
@requires("audit.read")
def audit_events() -> str | Response:
    since, until = _range()
    filters: dict[str, Any] = {
        "action": request.args.get("action", "").strip() or None,
        "actor": request.args.get("actor", "").strip().lower() or None,
        "member_id": request.args.get("member", "") or None,
        "since_us": since,
        "until_us": until,
    }
    return _log(
        "audit",
        accountability.audit_trail,
        AUDIT_COLUMNS,
        filters,
        "console/audit.html",
        actions=COMMON_ACTIONS,
    )


@bp.route("/audit/reads")
@requires("audit.read")
def audit_reads() -> str | Response:
    since, until = _range()
    filters: dict[str, Any] = {
        "kind": request.args.get("kind", "") or None,
        "member_id": request.args.get("member", "") or None,
        "feed": request.args.get("feed", "") or None,
        "since_us": since,
        "until_us": until,
    }
    feeds = [c.alias for c in collection_service.list_all(hub()) if c.kind != "inbox"]
    return _log(
        "feed-reads",
        accountability.read_log,
        READ_LOG_COLUMNS,
        filters,
        "console/audit_reads.html",
        feeds=feeds,
    )
