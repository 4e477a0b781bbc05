"""`hub connector`: list, run and inspect the connectors configured under [connectors.<name>].

Connectors are clients of the hub's HTTP API (package `connectors`); these commands only read
the settings and the connectors' own state files, never the hub's database.
"""

from __future__ import annotations

import sys

import click

from hub.cli_sharing import state_of_command


def _emit(data: object, text: str) -> None:
    state_of_command().emit(data, text)


@click.group()
def connector() -> None:
    """Pull from and push to other TAXII servers, import folders of indicator files."""


@connector.command("list")
def connector_list() -> None:
    """The configured connectors: kind, source, target, interval, where their secrets are."""
    from connectors.status import describe

    settings = state_of_command().settings
    rows = [describe(settings, c) for c in settings.connectors]
    lines = [
        f"{r['name']:<20} {r['kind']:<11} {'enabled' if r['enabled'] else 'disabled':<8} "
        f"{r['source']} -> {r['target']} every {r['interval_seconds']}s"
        for r in rows
    ]
    _emit(rows, "\n".join(lines) or "no connector is configured ([connectors.<name>])")


@connector.command("run")
@click.argument("name")
@click.option("--once", is_flag=True, help="One run, then exit (1 if it failed).")
def connector_run(name: str, once: bool) -> None:
    """Run a connector every interval_seconds until stopped (SIGTERM, Ctrl-C), or --once."""
    from connectors.retry import ConnectorError
    from connectors.runner import run
    from connectors.state import StateError
    from hub.observability import configure_logging

    state = state_of_command()
    settings = state.settings
    settings.connector(name)  # a ConfigError for an unknown name, before logging is set up
    observability = settings.observability
    configure_logging(observability.log_format, observability.log_level)
    try:
        record = run(settings, name, once=once)
    except (ConnectorError, StateError) as exc:
        click.echo(f"hub: connector {name}: {exc}", err=True)
        sys.exit(1)
    outcome = record.get("outcome")
    text = (
        f"{name}: {outcome}; fetched {record.get('fetched', 0)}, delivered "
        f"{record.get('submitted', 0)}, failed {record.get('failed', 0)}"
        + (f"\nerror: {record['error']}" if record.get("error") else "")
    )
    _emit({"name": name, **record}, text)
    if once and outcome == "failed":
        sys.exit(1)


@connector.command("status")
@click.argument("name", required=False)
@click.option("--runs", type=click.IntRange(1, 200), default=5, show_default=True)
def connector_status(name: str | None, runs: int) -> None:
    """Last runs, cursor, counters, backlog and errors of one connector or all."""
    from connectors.state import StateError
    from connectors.status import status, summary_line

    settings = state_of_command().settings
    chosen = [settings.connector(name)] if name else list(settings.connectors)
    try:
        rows = [status(settings, c, runs) for c in chosen]
    except StateError as exc:
        raise click.ClickException(str(exc)) from None
    if name:
        _emit(rows[0], summary_line(rows[0]))
    else:
        text = "\n".join(summary_line(r) for r in rows)
        _emit(rows, text or "no connector is configured ([connectors.<name>])")


def register(main: click.Group) -> None:
    main.add_command(connector)
