"""The `hub` command: set up, run and administer a hub. Every command is non-interactive."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, TypeVar

import click
import orjson

from hub.config import ConfigError, Settings, load_settings, replace
from hub.errors import HubError
from hub.services import Hub, membership, setup
from hub.services import collections as collection_service
from hub.stix.timestamps import format_us, now_us
from hub.storage import migrate
from hub.storage.membership import ApiKey, Member

F = TypeVar("F", bound=Callable[..., Any])


class State:
    def __init__(self, config: str | None, as_json: bool) -> None:
        self.config_path = config
        self.as_json = as_json
        self._hub: Hub | None = None

    @property
    def settings(self) -> Settings:
        return load_settings(self.config_path)

    @property
    def hub(self) -> Hub:
        if self._hub is None:
            self._hub = Hub.open(self.settings)
            if not migrate.is_current(self._hub.db):
                raise click.ClickException("the database is not initialised: run `hub init` first")
        return self._hub

    def audit(
        self,
        action: str,
        *,
        member_id: str | None = None,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record an administrative act done from the command line in the audit trail."""
        from hub.services.accountability import audit, cli_actor

        audit(
            self.hub,
            action,
            actor=cli_actor(),
            actor_kind="cli",
            member_id=member_id,
            target=target,
            detail=detail,
        )

    def emit(self, data: Any, text: str) -> None:
        if self.as_json:
            click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        else:
            click.echo(text)


pass_state = click.make_pass_decorator(State)


@contextmanager
def _friendly_errors() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        click.echo(f"hub: configuration error: {exc}", err=True)
        sys.exit(2)
    except HubError as exc:
        click.echo(f"hub: {exc.description or exc.title}", err=True)
        sys.exit(1)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        with _friendly_errors():
            return super().invoke(ctx)


@click.group(cls=_Group)
@click.option(
    "--config", envvar="HUB_CONFIG", type=click.Path(dir_okay=False), help="TOML settings file."
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.version_option(package_name="sharing-hub")
@click.pass_context
def main(ctx: click.Context, config: str | None, as_json: bool) -> None:
    """Run and administer the threat-information-sharing hub."""
    ctx.obj = State(config, as_json)


# --- setup and serving ---------------------------------------------------------------------


@main.command()
@click.option(
    "--admin-email", default=None, help="E-mail of the first admin (default admin@hub.local)."
)
@click.option(
    "--admin-password",
    envvar="HUB_ADMIN_PASSWORD",
    default=None,
    help="Its password (or $HUB_ADMIN_PASSWORD); generated and printed once if omitted.",
)
@click.option("--demo", is_flag=True, help="Also create demo members with API keys.")
@pass_state
def init(state: State, admin_email: str | None, admin_password: str | None, demo: bool) -> None:
    """Create or upgrade the database, secrets, collections and admin account (idempotent)."""
    hub = Hub.open(state.settings)
    report = setup.init(hub, admin_email=admin_email, admin_password=admin_password, demo=demo)
    lines = [f"database: {report.database}"]
    lines += [f"created secret: {path}" for path in report.secrets_created]
    lines += [f"created collection: {alias}" for alias in report.collections_created]
    if report.admin_email:
        lines.append(f"created admin: {report.admin_email}")
    if report.admin_password:
        lines.append(f"admin password (shown once): {report.admin_password}")
    if report.demo_keys_file:
        lines.append(f"demo members' API keys: {report.demo_keys_file}")
    state.emit(asdict(report), "\n".join(lines))


@main.command()
@click.option("--host", default=None, help="Address to listen on (default server.host).")
@click.option("--port", type=int, default=None, help="Port (default server.port).")
@click.option(
    "--workers", type=int, default=None, help="Worker processes (default server.workers)."
)
@pass_state
def serve(state: State, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the hub with gunicorn (a production WSGI server)."""
    from hub.serve import run

    changes = {
        k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None
    }
    settings = replace(state.settings, server=changes) if changes else state.settings
    hub = Hub.open(settings)
    if not migrate.is_current(hub.db):
        raise click.ClickException("the database is not initialised: run `hub init` first")
    setup.prepare(hub)
    hub.secret("session_key")  # fail here, not in every worker, if a secret is missing
    hub.close()
    run(settings)


@main.command()
@pass_state
def worker(state: State) -> None:
    """Process queued submissions from Redis until stopped (SIGTERM/SIGINT finish the chunk)."""
    import signal

    from hub.services.worker import Worker

    hub = state.hub
    if not hub.settings.queue.redis_url:
        raise click.ClickException(
            "queue.redis_url is not set: without Redis the web process processes submissions"
        )
    from hub.observability import configure_logging

    observability = hub.settings.observability
    configure_logging(observability.log_format, observability.log_level)
    loop = Worker(hub)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: loop.stopping.set())
    click.echo(f"hub worker: consuming {hub.settings.queue.stream} as {hub.settings.queue.group}")
    loop.run()
    hub.close()


@main.command("push")
@click.argument("source", metavar="FILE|-")
@click.option("--url", envvar="HUB_PUSH_URL", required=True, help="The hub ($HUB_PUSH_URL).")
@click.option(
    "--key",
    envvar="HUB_PUSH_KEY",
    required=True,
    help="KEYID:SECRET (HTTP Basic) or SECRET (Bearer). Prefer $HUB_PUSH_KEY: options are "
    "visible to other users in the process list.",
)
@click.option("--collection", default="inbox", show_default=True, help="Collection alias.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "text"]),
    default=None,
    help="Input format (default: by extension .json/.csv/.txt, else sniffed).",
)
@click.option(
    "--tlp",
    type=click.Choice(["clear", "green", "amber", "amber+strict", "red"], case_sensitive=False),
    default=None,
    help="TLP 2.0 level for STIX objects without a TLP marking and CSV rows without a tlp cell.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Resume file (default FILE.hub-push.json; none for stdin).",
)
@click.option(
    "--batch-objects",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Most objects or rows per submission.",
)
@click.option("--wait", is_flag=True, help="Wait until the hub has processed every batch.")
@click.option("--wait-timeout", type=click.FloatRange(min=0), default=600.0, show_default=True)
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=5,
    show_default=True,
    help="Retries of a transient failure (no connection, 429, 502-504), with backoff.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or notices; errors only.")
@pass_state
def push_command(
    state: State,
    source: str,
    url: str,
    key: str,
    collection: str,
    fmt: str | None,
    tlp: str | None,
    state_file: str | None,
    batch_objects: int,
    wait: bool,
    wait_timeout: float,
    retries: int,
    quiet: bool,
) -> None:
    """Send FILE (- for stdin: a STIX bundle, CSV or text list) to a hub, in batches under its
    size limit. Run the same command again after an interruption to send only the rest.

    Exit status: 0 all sent, 1 stopped (run again to resume), 3 all sent but objects too large
    for one request were skipped, 130 interrupted.
    """
    from hub import push

    def notify(text: str) -> None:
        if not quiet:
            click.echo(f"hub push: {text}", err=True)

    options = push.PushOptions(
        source=source,
        url=url,
        key=key,
        collection=collection,
        fmt=fmt,
        tlp=tlp.lower() if tlp else None,
        state_file=state_file,
        batch_objects=batch_objects,
        wait=wait,
        wait_timeout=wait_timeout,
        retries=retries,
        progress=not quiet and sys.stderr.isatty(),
    )
    try:
        report = push.push(options, notify)
    except push.PushError as exc:
        click.echo(f"hub push: {exc}", err=True)
        sys.exit(1)
    for problem in report.problems():
        click.echo(f"hub push: {problem}", err=True)
    state.emit(report.as_dict(), report.summary())
    if report.exit_code:
        sys.exit(report.exit_code)


# --- members -------------------------------------------------------------------------------


def _member_dict(m: Member) -> dict[str, Any]:
    data = asdict(m)
    data["created"] = format_us(data.pop("created_us"))
    return data


def _member_line(m: Member) -> str:
    return (
        f"{m.id}  {m.name}  kind={m.kind} sector={m.sector or '-'} "
        f"consent={m.consent} status={m.status}"
    )


@main.group()
def member() -> None:
    """Member organisations."""


@member.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["industry", "government"]), required=True)
@click.option("--sector", default=None)
@click.option(
    "--consent", type=click.Choice(membership.CONSENTS), default="none", show_default=True
)
@click.option("--contact", default=None, help="Contact e-mail or note for admins.")
@click.option(
    "--alias",
    "aliases",
    multiple=True,
    help="Another name that identifies it (short name, domain); hidden like its name. Repeatable.",
)
@pass_state
def member_add(
    state: State,
    name: str,
    kind: str,
    sector: str | None,
    consent: str,
    contact: str | None,
    aliases: tuple[str, ...],
) -> None:
    """Add a member organisation."""
    m = membership.add_member(
        state.hub, name, kind, sector=sector, consent=consent, contact=contact, aliases=aliases
    )
    state.audit("member.add", member_id=m.id, target=m.name, detail={"kind": kind})
    state.emit(_member_dict(m), _member_line(m))


@member.command("list")
@click.option("--kind", type=click.Choice(["industry", "government"]), default=None)
@click.option("--status", type=click.Choice(["active", "suspended"]), default=None)
@pass_state
def member_list(state: State, kind: str | None, status: str | None) -> None:
    """List members."""
    found = membership.list_members(state.hub, kind=kind, status=status)
    state.emit([_member_dict(m) for m in found], "\n".join(_member_line(m) for m in found))


@member.command("suspend")
@click.argument("member_ref", metavar="ID")
@pass_state
def member_suspend(state: State, member_ref: str) -> None:
    """Suspend a member: its keys are refused at once."""
    m = membership.set_member_status(state.hub, member_ref, "suspended")
    state.audit("member.suspend", member_id=m.id, target=m.name)
    state.emit(_member_dict(m), _member_line(m))


@member.command("reinstate")
@click.argument("member_ref", metavar="ID")
@pass_state
def member_reinstate(state: State, member_ref: str) -> None:
    """Reinstate a suspended member."""
    m = membership.set_member_status(state.hub, member_ref, "active")
    state.audit("member.reinstate", member_id=m.id, target=m.name)
    state.emit(_member_dict(m), _member_line(m))


# --- API keys ------------------------------------------------------------------------------


def _key_dict(k: ApiKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "member_id": k.member_id,
        "scope": k.scope,
        "label": k.label,
        "created": format_us(k.created_us),
        "expires": format_us(k.expires_us) if k.expires_us else None,
        "revoked": format_us(k.revoked_us) if k.revoked_us else None,
        "last_used": format_us(k.last_used_us) if k.last_used_us else None,
    }


def _key_line(k: ApiKey) -> str:
    state = "revoked" if k.revoked_us else "active"
    expires = format_us(k.expires_us) if k.expires_us else "never"
    last = format_us(k.last_used_us) if k.last_used_us else "never"
    return f"{k.id}  scope={k.scope} {state} expires={expires} last_used={last}"


@main.group()
def key() -> None:
    """Members' API keys."""


@key.command("issue")
@click.argument("member_ref", metavar="MEMBER")
@click.option("--scope", default="read", show_default=True, help="read, write or read,write")
@click.option("--label", default=None)
@click.option("--expires-days", type=click.IntRange(min=1), default=None)
@pass_state
def key_issue(
    state: State, member_ref: str, scope: str, label: str | None, expires_days: int | None
) -> None:
    """Issue a key; its secret is printed once and never stored."""
    expires = now_us() + expires_days * 86_400_000_000 if expires_days else None
    issued = membership.issue_key(state.hub, member_ref, scope, label=label, expires_us=expires)
    state.audit(
        "key.issue", member_id=issued.key.member_id, target=issued.key.id, detail={"scope": scope}
    )
    data = {**_key_dict(issued.key), "secret": issued.secret}
    state.emit(
        data,
        f"key id: {issued.key.id}\nsecret: {issued.secret}\n"
        "(the secret is shown once; store it now)",
    )


@key.command("list")
@click.argument("member_ref", metavar="MEMBER")
@pass_state
def key_list(state: State, member_ref: str) -> None:
    """List a member's keys (never their secrets)."""
    keys = membership.list_keys(state.hub, member_ref)
    state.emit([_key_dict(k) for k in keys], "\n".join(_key_line(k) for k in keys))


@key.command("revoke")
@click.argument("key_id", metavar="KEYID")
@pass_state
def key_revoke(state: State, key_id: str) -> None:
    """Revoke a key: it is refused at once."""
    revoked = membership.revoke_key(state.hub, key_id)
    state.audit("key.revoke", member_id=revoked.member_id, target=revoked.id)
    state.emit(_key_dict(revoked), _key_line(revoked))


# --- collections ---------------------------------------------------------------------------


@main.group()
def collection() -> None:
    """TAXII collections (feeds come from the config file; trust groups are added here)."""


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@collection.command("add")
@click.argument("alias")
@click.option("--title", required=True)
@click.option("--description", default="")
@click.option(
    "--readers",
    default="",
    help="Comma list: industry, government, industry:SECTOR, sector:SECTOR, *",
)
@click.option("--writers", default="", help="Same form as --readers.")
@pass_state
def collection_add(
    state: State, alias: str, title: str, description: str, readers: str, writers: str
) -> None:
    """Add a closed trust-group collection."""
    c = collection_service.add_collection(
        state.hub,
        alias,
        title,
        description=description,
        readers=_split(readers),
        writers=_split(writers),
    )
    state.emit(
        asdict(c), f"{c.id}  {c.alias}  readers={','.join(c.readers)} writers={','.join(c.writers)}"
    )


@collection.command("list")
@pass_state
def collection_list(state: State) -> None:
    """List every collection with who may read and write it."""
    found = collection_service.list_all(state.hub)
    state.emit(
        [asdict(c) for c in found],
        "\n".join(
            f"{c.id}  {c.alias:<12} kind={c.kind} readers={','.join(c.readers) or '-'} "
            f"writers={','.join(c.writers) or '-'}"
            for c in found
        ),
    )


from hub import (  # noqa: E402  (each adds its commands to `main`)
    cli_accountability,
    cli_connectors,
    cli_sharing,
    cli_users,
)

cli_sharing.register(main)
cli_accountability.register(main)
cli_users.register(main)
cli_connectors.register(main)

if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
