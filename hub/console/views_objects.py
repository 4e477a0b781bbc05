"""The object browser: search by indicator value, type, TLP and date; an object's versions in
each collection and its receipts (where it was released, as what)."""

from __future__ import annotations

from urllib.parse import urlencode

import orjson
from flask import render_template, request

from hub.console import bp
from hub.console.format import day, page_number
from hub.console.security import actor, can, hub, requires, user
from hub.services import browse, membership, users
from hub.sharing.policy import NEVER_RELEASED
from hub.stix.markings import TLP_LEVELS

DAY_US = 86_400_000_000
COMMON_TYPES = (
    "indicator",
    "malware",
    "threat-actor",
    "campaign",
    "attack-pattern",
    "vulnerability",
    "identity",
    "relationship",
    "sighting",
    "report",
    "ipv4-addr",
    "domain-name",
    "url",
    "file",
)


def _scope() -> str | None:
    """None for staff (every collection), else the member-admin's own member."""
    if can("objects.read"):
        return None
    return user().member_id or "-"


@bp.route("/objects")
@requires("objects.read", "own.read")
def objects() -> str:
    args = request.args
    until = day(args.get("until", ""))
    query = browse.Query(
        text=args.get("q", ""),
        type=args.get("type", ""),
        tlp=args.get("tlp", ""),
        collection=args.get("collection", ""),
        since_us=day(args.get("since", "")),
        until_us=until + DAY_US if until is not None else None,
        all_versions=bool(args.get("all_versions")),
    )
    page = page_number(args.get("page"))
    size = hub().settings.console.page_size
    searched = any(v for k, v in args.items() if k != "page")
    hits = (
        browse.search(hub(), query, own_member=_scope(), limit=size + 1, offset=(page - 1) * size)
        if searched
        else []
    )
    kept = {k: v for k, v in args.items() if k != "page" and v}
    return render_template(
        "console/objects.html",
        hits=hits[:size],
        more=len(hits) > size,
        page=page,
        args=lambda p: urlencode({**kept, "page": p}),
        query=query,
        searched=searched,
        collections=browse.visible_collections(hub(), _scope()),
        types=COMMON_TYPES,
        levels=[t for t in TLP_LEVELS if t not in NEVER_RELEASED],
    )


@bp.route("/objects/<path:object_id>")
@requires("objects.read", "own.read")
def object_detail(object_id: str) -> str:
    found = browse.detail(hub(), object_id, own_member=_scope())
    # Opening an object shows what a member submitted, personal data included: recorded.
    users.record(hub(), actor(), "object.view", member_id=found.submitter, target=object_id)
    names = {m.id: m.name for m in membership.list_members(hub())} if can("members.read") else {}
    pretty = {
        (v.collection_alias, v.seq): orjson.dumps(
            orjson.loads(v.body), option=orjson.OPT_INDENT_2
        ).decode("utf-8")
        for v in found.versions
    }
    return render_template(
        "console/object.html",
        detail=found,
        pretty=pretty,
        names=names,
        loads=orjson.loads,
    )
