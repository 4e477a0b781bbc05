"""`hub retention`, `hub audit` and `hub transparency`: accountability from the command line."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

import click
import orjson

from hub.cli_sharing import state_of_command
from hub.errors import BadRequest
from hub.stix.timestamps import format_us


def _date(value: str | None, option: str) -> int | None:
    """A YYYY-MM-DD (UTC midnight) or full timestamp as microseconds."""
    if value is None:
        return None
    for layout in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            moment = datetime.strptime(value, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
        return int(moment.timestamp() * 1_000_000)
    raise BadRequest(f"{option}: expected YYYY-MM-DD or a UTC timestamp, got {value!r}")


@click.group()
def retention() -> None:
    """Purge what the retention rules say ([retention] and each feed's retention_days)."""


@retention.command("run")
def retention_run() -> None:
    """Apply every retention rule now (workers also do it every interval_seconds)."""
    from hub.services import retention as service
    from hub.services.accountability import audit

    state = state_of_command()
    results = service.run(state.hub)
    audit(
        state.hub,
        "retention.run",
        actor="cli",
        actor_kind="cli",
        detail={"purged": {r.rule: r.count for r in results}},
    )
    state.emit(
        [asdict(r) for r in results],
        "\n".join(f"{r.rule}: {r.count} {r.target}(s) before {r.cutoff}" for r in results)
        or "nothing to purge",
    )


@retention.command("log")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
def retention_log(limit: int) -> None:
    """Past purges, newest first: when, which rule, how many (never what)."""
    from hub.storage.accountability import PurgeRepository

    state = state_of_command()
    with state.hub.db.read() as conn:
        found = PurgeRepository(conn).list(limit)
    rows = [
        {"time": format_us(p.at_us), "rule": p.rule, "target": p.target, "count": p.count}
        for p in found
    ]
    state.emit(
        rows, "\n".join(f"{r['time']}  {r['rule']:<28} {r['count']:>8} {r['target']}" for r in rows)
    )


@click.group()
def audit() -> None:
    """The audit trail and the feed read log (incl. government access)."""


@audit.command("reads")
@click.option("--kind", type=click.Choice(["industry", "government"]), default=None)
@click.option("--member", "member_ref", default=None, help="Member id or name.")
@click.option("--feed", default=None, help="Feed alias or id.")
@click.option("--since", default=None, help="YYYY-MM-DD or UTC timestamp (inclusive).")
@click.option("--until", default=None, help="YYYY-MM-DD or UTC timestamp (exclusive).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (for a spreadsheet).")
def audit_reads(
    kind: str | None,
    member_ref: str | None,
    feed: str | None,
    since: str | None,
    until: str | None,
    as_csv: bool,
) -> None:
    """Who pulled which feed when: `--kind government` is the government access log."""
    from hub.services import accountability, membership

    state = state_of_command()
    member_id = membership.find_member(state.hub, member_ref).id if member_ref else None
    rows = accountability.read_log(
        state.hub,
        kind=kind,
        member_id=member_id,
        feed=feed,
        since_us=_date(since, "--since"),
        until_us=_date(until, "--until"),
    )
    if as_csv:
        click.echo(accountability.as_csv(rows, accountability.READ_LOG_COLUMNS), nl=False)
        return
    state.emit(
        rows,
        "\n".join(
            f"{r['time']}  {r['member']:<24} {r['kind']:<10} {r['feed']:<12} "
            f"{r['objects']:>6} objects"
            for r in rows
        ),
    )


@audit.command("events")
@click.option("--action", default=None, help="e.g. review.approve, or review.* for a prefix.")
@click.option("--actor", default=None)
@click.option("--since", default=None, help="YYYY-MM-DD or UTC timestamp (inclusive).")
@click.option("--until", default=None, help="YYYY-MM-DD or UTC timestamp (exclusive).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (for a spreadsheet).")
def audit_events(
    action: str | None, actor: str | None, since: str | None, until: str | None, as_csv: bool
) -> None:
    """Who did what: administration, review decisions, key rotations, retention runs."""
    from hub.services import accountability

    state = state_of_command()
    rows = accountability.audit_trail(
        state.hub,
        action=action,
        actor=actor,
        since_us=_date(since, "--since"),
        until_us=_date(until, "--until"),
    )
    if as_csv:
        click.echo(accountability.as_csv(rows, accountability.AUDIT_COLUMNS), nl=False)
        return
    state.emit(
        rows,
        "\n".join(
            f"{r['time']}  {r['actor']:<24} {r['action']:<20} {r['target'] or ''}" for r in rows
        ),
    )


@click.command("transparency")
def transparency_command() -> None:
    """Print the transparency report as it is published (JSON)."""
    from hub.services import transparency

    state = state_of_command()
    report = transparency.report(state.hub)
    click.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


def register(main: click.Group) -> None:
    for command in (retention, audit, transparency_command):
        main.add_command(command)
