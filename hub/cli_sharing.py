"""`hub review`, `hub policy` and `hub keys`: the sharing rules from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from hub.errors import BadRequest
from hub.services.accountability import cli_actor
from hub.stix.timestamps import format_us

if TYPE_CHECKING:
    from hub.cli import State
    from hub.services.preview import Preview
    from hub.storage.sharing import ReviewItem


def state_of_command() -> State:
    """The State `main` made for this invocation."""
    # The root context's object is the State `main` made (looked up by place, not by class:
    # under `python -m hub.cli` the class exists twice).
    state: State = click.get_current_context().find_root().obj
    return state


# --- review ------------------------------------------------------------------------------------


def _item_dict(item: ReviewItem, *, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": item.id,
        "state": item.state,
        "object_id": item.object_id,
        "type": item.type,
        "member_id": item.member_id,
        "submission_id": item.submission_id,
        "reasons": item.reason_list,
        "created": format_us(item.created_us),
        "policy_version": item.policy_version,
        "decided_by": item.decided_by,
        "decided": format_us(item.decided_us) if item.decided_us else None,
        "note": item.note,
    }
    if full:
        data["object"] = orjson.loads(item.body)
        data["hits"] = item.hit_list
        data["edited"] = orjson.loads(item.edited_body) if item.edited_body else None
    return data


def _item_line(item: ReviewItem) -> str:
    return (
        f"{item.id}  {item.state:<8} {format_us(item.created_us)}  {item.object_id}  "
        f"{'; '.join(item.reason_list)}"
    )


def _highlighted(item: ReviewItem) -> str:
    """The held object, pretty-printed, with every detector hit marked »like this«."""
    body = orjson.loads(item.body)
    lines = [
        f"review item {item.id} ({item.state}), object {item.object_id}",
        "held because: " + "; ".join(item.reason_list),
        "",
    ]
    texts = sorted({str(h["text"]) for h in item.hit_list if h.get("text")}, key=len, reverse=True)
    pretty = orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    for text in texts:
        encoded = orjson.dumps(text).decode()[1:-1]  # as it appears inside the JSON
        if encoded:
            pretty = pretty.replace(encoded, click.style(f"»{encoded}«", fg="red", bold=True))
    lines.append(pretty)
    if item.hit_list:
        lines.append("")
        lines += [f"  {h['detector']:<18} {h['path'] or '(object)'}" for h in item.hit_list]
    return "\n".join(lines)


@click.group()
def review() -> None:
    """The review queue: objects held by the personal-data and marking rules."""


@review.command("list")
@click.option(
    "--state",
    "state_filter",
    type=click.Choice(["pending", "approved", "rejected", "all"]),
    default="pending",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
def review_list(state_filter: str, limit: int) -> None:
    """List review items, oldest first."""
    from hub.services import review as service

    state = state_of_command()
    items = service.list_items(state.hub, None if state_filter == "all" else state_filter, limit)
    state.emit([_item_dict(i) for i in items], "\n".join(_item_line(i) for i in items))


@review.command("show")
@click.argument("item_id", metavar="ID")
def review_show(item_id: str) -> None:
    """Show a held object with what the detectors found in it highlighted."""
    from hub.services import review as service

    state = state_of_command()
    item = service.get_item(state.hub, item_id)
    state.emit(_item_dict(item, full=True), _highlighted(item))


@review.command("approve")
@click.argument("item_id", metavar="ID")
@click.option(
    "--edited",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON file with the object as edited by the reviewer (same id and modified).",
)
@click.option("--note", default=None, help="Why; kept with the decision.")
@click.option("--by", "reviewer", default=None, help="Who decides (default cli:$USER).")
def review_approve(
    item_id: str, edited: Path | None, note: str | None, reviewer: str | None
) -> None:
    """Release a held object, as submitted or as edited."""
    from hub.services import review as service

    state = state_of_command()
    body = None
    if edited is not None:
        try:
            body = orjson.loads(edited.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"{edited}: not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest(f"{edited}: expected one STIX object")
    outcome = service.approve(state.hub, item_id, reviewer or cli_actor(), edited=body, note=note)
    state.emit(
        {**_item_dict(outcome.item), "outcome": outcome.message},
        f"{outcome.item.id} approved: {outcome.message}",
    )


@review.command("reject")
@click.argument("item_id", metavar="ID")
@click.option("--note", default=None, help="Why; kept with the decision.")
@click.option("--by", "reviewer", default=None, help="Who decides (default cli:$USER).")
def review_reject(item_id: str, note: str | None, reviewer: str | None) -> None:
    """Keep a held object out of every feed."""
    from hub.services import review as service

    state = state_of_command()
    outcome = service.reject(state.hub, item_id, reviewer or cli_actor(), note=note)
    state.emit(
        {**_item_dict(outcome.item), "outcome": outcome.message},
        f"{outcome.item.id} rejected",
    )


# --- policy ------------------------------------------------------------------------------------


@click.group()
def policy() -> None:
    """The sharing policy: its versions, and what it would do with a bundle."""


@policy.command("show")
def policy_show() -> None:
    """Print the current policy version."""
    from hub.services.sharing import current_policy, policy_warnings

    state = state_of_command()
    version, current = current_policy(state.hub)
    warnings = policy_warnings(state.hub)
    document = {"version": version, **current.to_document(), "warnings": warnings}
    shown = {k: v for k, v in document.items() if k != "allowed_properties"}
    text = orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode()
    state.emit(document, text)


@policy.command("history")
def policy_history() -> None:
    """Every policy version: when, from where, by whom."""
    from hub.storage.sharing import PolicyRepository

    state = state_of_command()
    with state.hub.db.read() as conn:
        versions = PolicyRepository(conn).history()
    state.emit(
        [
            {
                "version": v.version,
                "created": format_us(v.created_us),
                "source": v.source,
                "author": v.author,
                "digest": v.digest,
                "note": v.note,
            }
            for v in versions
        ],
        "\n".join(
            f"{v.version:>4}  {format_us(v.created_us)}  {v.source:<8} {v.author or '-'}  "
            f"{v.digest[:12]}  {v.note or ''}"
            for v in versions
        ),
    )


@policy.command("preview")
@click.argument("bundle", type=click.File("rb"))
@click.option("--member", "member_ref", required=True, help="The submitting member (id or name).")
def policy_preview(bundle: Any, member_ref: str) -> None:
    """Print, per feed, exactly what would be released from BUNDLE (a STIX bundle or TAXII
    envelope; - for stdin) if MEMBER submitted it, and why the rest would not be."""
    from hub.services.preview import preview

    state = state_of_command()
    try:
        document = orjson.loads(bundle.read())
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the bundle is not JSON: {exc}") from None
    objects = document.get("objects") if isinstance(document, dict) else None
    if not isinstance(objects, list):
        raise BadRequest("expected a STIX bundle or TAXII envelope with an 'objects' list")
    result = preview(state.hub, member_ref, objects)
    from dataclasses import asdict

    state.emit(asdict(result), _preview_text(result))


def _preview_text(result: Preview) -> str:
    lines = [
        f"policy version {result.policy_version}; submitter {result.member} "
        f"(consent: {result.consent})"
    ]
    for feed in result.feeds:
        who = "named" if feed.named else "pseudonymised"
        lines.append("")
        lines.append(f"== feed {feed.alias}: {len(feed.released)} released (submitter {who})")
        for obj in feed.released:
            lines.append("  + " + orjson.dumps(obj).decode())
        for entry in feed.not_released:
            lines.append(f"  - {entry['id']}: {entry['reason']}")
    for title, entries, key in (
        ("held for review", result.held, "reasons"),
        ("not forwarded", result.withheld, "reasons"),
        ("rejected", result.rejected, "reasons"),
        ("invalid", result.invalid, "problems"),
    ):
        if entries:
            lines.append("")
            lines.append(f"== {title}: {len(entries)}")
            lines += [f"  {e['id']}: {'; '.join(e[key])}" for e in entries]
    return "\n".join(lines)


# --- keys --------------------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """The hub's own keys."""


@keys.command("rotate-pseudonyms")
@click.option("--yes", is_flag=True, help="Confirm: new objects get new pseudonyms from now on.")
def keys_rotate_pseudonyms(yes: bool) -> None:
    """Start a new pseudonym key epoch. New objects get new pseudonyms in every feed; new
    versions of objects already released keep the pseudonym they were released under. The
    old key is overwritten: its pseudonyms can no longer be derived by anyone."""
    from hub.services.sharing import rotate_pseudonym_key

    if not yes:
        raise click.UsageError("rotating pseudonyms cannot be undone; pass --yes to confirm")
    state = state_of_command()
    epoch = rotate_pseudonym_key(state.hub)
    state.audit("keys.rotate-pseudonyms", detail={"epoch": epoch})
    state.emit({"epoch": epoch}, f"pseudonym key epoch {epoch} started")


def register(main: click.Group) -> None:
    for group in (review, policy, keys):
        main.add_command(group)
