"""Settings: frozen dataclasses loaded from a TOML file, each value overridable by env vars.

The file is chosen by `--config` or `HUB_CONFIG`; any scalar setting `[section] key` can be
overridden by `HUB_<SECTION>_<KEY>` (e.g. `HUB_STORAGE_URL`). Every problem is one
`ConfigError` naming the key, so the CLI can print one line instead of a traceback.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from hub.sharing.policy import allowed_list_problems

MEMBER_KINDS = ("industry", "government")
TLP_LEVELS = ("clear", "green", "amber", "amber+strict", "red")
COLLECTION_KINDS = ("inbox", "feed", "trust-group")
CONNECTOR_KINDS = ("taxii-pull", "taxii-push", "directory")
ALIAS = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_READER = re.compile(r"^(?:\*|industry|government|sector:[\w.-]+|(?:industry|government):[\w.-]+)$")


class ConfigError(Exception):
    """A configuration problem; the message names the setting."""


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    threads: int = 4
    # Base URL clients use to reach the hub (behind a proxy); empty: taken from each request.
    public_url: str = ""
    # Reverse proxies in front of the hub whose X-Forwarded-For/-Proto/-Host are believed. 0:
    # none, the client address is the TCP peer's (a client cannot claim another address).
    trusted_proxies: int = 0
    # Seconds `hub serve` keeps an idle client connection open for its next request.
    keepalive_seconds: int = 30


@dataclass(frozen=True)
class StorageSettings:
    data_dir: str = "var"
    # SQLAlchemy URL; empty means a SQLite file `hub.db` in data_dir.
    url: str = ""
    pool_size: int = 5
    echo: bool = False


@dataclass(frozen=True)
class SecretsSettings:
    # Each secret is a file (0600) created by `hub init`; empty means `<data_dir>/secrets/<name>`.
    session_key_file: str = ""
    api_key_pepper_file: str = ""
    pseudonym_key_file: str = ""


@dataclass(frozen=True)
class TaxiiSettings:
    title: str = "Threat-sharing hub"
    description: str = "STIX 2.1 indicators shared under TLP and consent rules."
    contact: str = ""
    api_root: str = "hub"
    max_content_length: int = 10 * 1024 * 1024
    default_page_size: int = 100
    max_page_size: int = 1000


@dataclass(frozen=True)
class IngestSettings:
    # Most objects one submission may carry, and deepest JSON nesting accepted.
    max_objects: int = 100_000
    max_depth: int = 32
    # Objects validated and stored per transaction (each one updates the status resource).
    chunk_size: int = 1000
    # Submissions up to this many objects are processed before the POST is answered (the
    # status comes back complete); larger ones are queued. 0: queue everything.
    inline_max_objects: int = 1000
    # How far ahead of the hub's clock a `created`/`modified` timestamp may be.
    future_tolerance_seconds: int = 86_400


@dataclass(frozen=True)
class QueueSettings:
    # Redis URL for the submission queue (a Redis Stream with a consumer group), processed by
    # `hub worker`. Empty: the web process runs the pipeline on a background thread.
    redis_url: str = ""
    stream: str = "hub:submissions"
    group: str = "hub-workers"
    # A submission held this long by a worker that stopped answering is taken over by another;
    # one still pending in the database this long after it was queued is queued again.
    reclaim_after_seconds: int = 60
    # Each worker (a `hub worker`, or the web process's pipeline thread) records itself in the
    # database this often; one not heard from for worker_stale_seconds is shown as stale, and
    # one stopped or silent for worker_forget_hours is forgotten.
    heartbeat_seconds: int = 5
    worker_stale_seconds: int = 30
    worker_forget_hours: int = 24


@dataclass(frozen=True)
class SharingSettings:
    # TLP assumed for an object that carries no TLP marking.
    default_tlp: str = "amber"
    # An object marked with a marking definition the hub cannot read: hold (for review),
    # reject (a failure in its status), or red (treated as TLP:RED).
    unknown_marking: str = "hold"
    # What each personal-data detector does with what it finds: redact, hold or allow.
    detect_email: str = "redact"
    detect_phone: str = "redact"
    detect_person_name: str = "redact"
    detect_account: str = "hold"
    detect_internal_address: str = "redact"
    detect_internal_hostname: str = "redact"
    detect_custom_property: str = "redact"
    # Host names under these domains are internal (comma-separated).
    internal_domains: str = "local,localdomain,lan,internal,intranet,corp,home.arpa"


@dataclass(frozen=True)
class RetentionSettings:
    # Days after which the raw body of a processed submission is emptied (its size, SHA-256
    # and status stay). 0: kept forever.
    raw_submission_days: int = 30
    # Days after an indicator's valid_until passes before it leaves the feeds. -1: never.
    expired_grace_days: int = 30
    # Days a decided review item (which shows the personal data it was held for) is kept.
    review_days: int = 90
    # Days the feed read log (who pulled which feed when, incl. government access) is kept.
    read_log_days: int = 365
    # Days the audit trail is kept.
    audit_days: int = 730
    # Seconds between retention runs by each worker (or the web process without Redis);
    # 0: only `hub retention run`.
    interval_seconds: int = 3600


@dataclass(frozen=True)
class TransparencySettings:
    # Publish the transparency report at /transparency (page) and /transparency.json.
    enabled: bool = True
    # Readable without an account; false: any member's API key.
    public: bool = True
    # No figure about fewer distinct organisations than this is published.
    min_group_size: int = 5
    # Whether a submitter's receipts name the organisations that pulled its objects (else
    # counts by kind and sector only).
    name_subscribers: bool = False


@dataclass(frozen=True)
class LimitsSettings:
    # Requests a minute per API key, on average (0: no limit), and how many may come at once.
    # Shared through Redis when queue.redis_url is set; else counted in each web process.
    requests_per_minute: int = 6000
    burst: int = 1000
    # Objects a member may submit in any 24 hours (0: no quota).
    objects_per_day: int = 0


@dataclass(frozen=True)
class ObservabilitySettings:
    # Log lines of `hub serve` and `hub worker`: "json" (one object per line) or "text".
    log_format: str = "json"
    log_level: str = "info"
    # A file holding the bearer token that /metrics requires; empty: /metrics answers
    # loopback clients only.
    metrics_token_file: str = ""


@dataclass(frozen=True)
class ConsoleSettings:
    # Serve the admin web console at /console.
    enabled: bool = True
    # Minutes without a request after which a console session ends.
    idle_timeout_minutes: int = 30
    # Hours after sign-in after which a session ends, however active.
    max_session_hours: int = 12
    # The session cookie's Secure flag: "auto" (set when the request came over https or
    # server.public_url is https), "always" or "never".
    cookie_secure: str = "auto"
    # The session cookie's SameSite attribute: "Lax" or "Strict".
    cookie_samesite: str = "Lax"
    # Consecutive failed sign-ins to one account, and from one client address, before further
    # attempts are refused for a while.
    lockout_threshold: int = 5
    lockout_address_threshold: int = 20
    # Seconds the first lock-out lasts; each further failure doubles it, up to the maximum.
    lockout_seconds: int = 60
    lockout_max_seconds: int = 3600
    # Require a TOTP second factor of every console user (else of those an admin marks).
    require_totp: bool = False
    # The issuer name authenticator apps show next to the account.
    totp_issuer: str = "Threat-sharing hub"
    # Rows shown per page in the console's lists.
    page_size: int = 50


@dataclass(frozen=True)
class CollectionSettings:
    alias: str
    title: str
    description: str = ""
    kind: str = "feed"
    readers: tuple[str, ...] = ()
    writers: tuple[str, ...] = ()
    # Feeds only: the TLP levels the sharing policy releases to it (never amber+strict or
    # red), and whether a submitter may be named in it where its consent allows ("consent")
    # or always appears as a pseudonym ("never").
    tlp: tuple[str, ...] = ()
    identity: str = "consent"
    # Feeds only: days a version stays in the feed after it was added. 0: kept.
    retention_days: int = 0


@dataclass(frozen=True)
class ConnectorSettings:
    """One `[connectors.<name>]` table: a standalone connector that reaches the hub over HTTP."""

    name: str
    kind: str
    enabled: bool = True
    # Seconds between runs of `hub connector run NAME` (without --once).
    interval_seconds: int = 300
    # The hub as the connector reaches it; empty: server.public_url, else server.host:port.
    hub_url: str = ""
    # The member API key (KEYID:SECRET) the connector uses: a file holding it, or the name of an
    # environment variable. Write scope for taxii-pull and directory, read for taxii-push.
    hub_key_file: str = ""
    hub_key_env: str = ""
    # taxii-pull and directory: the hub collection submitted to; taxii-push: the feed forwarded.
    hub_collection: str = "inbox"
    # taxii-pull and taxii-push: the remote TAXII 2.1 API root and collection (id, alias or title).
    url: str = ""
    collection: str = ""
    # Remote credentials: HTTP Basic (username with password_file or password_env), or a bearer
    # token (token_file or token_env). A PEM bundle to verify the remote's TLS certificate.
    username: str = ""
    password_file: str = ""
    password_env: str = ""
    token_file: str = ""
    token_env: str = ""
    ca_file: str = ""
    # Objects asked for per TAXII page, and the most objects sent in one request.
    page_size: int = 1000
    batch_objects: int = 1000
    # taxii-pull and taxii-push: only these STIX types (match[type]); empty: all.
    types: tuple[str, ...] = ()
    # taxii-pull: where the first run starts (a STIX timestamp); empty: the whole collection.
    added_after: str = ""
    # taxii-pull and directory: the TLP of objects and list rows that carry none.
    tlp: str = ""
    # directory: the folder watched, and where imported files are moved (empty: left in place).
    path: str = ""
    archive_dir: str = ""
    # Seconds a request may take; attempts at a request failing for a transient reason (429,
    # 5xx, network); the longest wait between attempts or failed runs.
    timeout_seconds: int = 60
    retries: int = 4
    backoff_max_seconds: int = 300


# The keys each kind of connector takes, besides those every kind takes.
_CONNECTOR_COMMON = (
    "kind",
    "enabled",
    "interval_seconds",
    "hub_url",
    "hub_key_file",
    "hub_key_env",
    "hub_collection",
    "batch_objects",
    "timeout_seconds",
    "retries",
    "backoff_max_seconds",
)
_CONNECTOR_REMOTE = (
    "url",
    "collection",
    "username",
    "password_file",
    "password_env",
    "token_file",
    "token_env",
    "ca_file",
    "page_size",
    "types",
)
CONNECTOR_KEYS: Mapping[str, frozenset[str]] = {
    "taxii-pull": frozenset((*_CONNECTOR_COMMON, *_CONNECTOR_REMOTE, "added_after", "tlp")),
    "taxii-push": frozenset((*_CONNECTOR_COMMON, *_CONNECTOR_REMOTE)),
    "directory": frozenset((*_CONNECTOR_COMMON, "path", "archive_dir", "tlp")),
}
_SECRET_NAMES = ("password", "token", "hub_key", "key", "secret", "api_key")


DEFAULT_COLLECTIONS: tuple[CollectionSettings, ...] = (
    CollectionSettings(
        "inbox",
        "Inbox",
        "Members post their indicators here; the hub shares them by policy.",
        kind="inbox",
        writers=("industry",),
    ),
    CollectionSettings(
        "government",
        "Government feed",
        "What the sharing policy releases to government members.",
        readers=("government",),
        tlp=("clear", "green", "amber"),
    ),
    CollectionSettings(
        "members",
        "Members feed",
        "What the sharing policy releases to industry peers.",
        readers=("industry",),
        tlp=("clear", "green", "amber"),
    ),
    CollectionSettings(
        "public",
        "Public feed",
        "TLP:CLEAR material, readable by every member.",
        readers=("*",),
        tlp=("clear",),
    ),
)


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    secrets: SecretsSettings = field(default_factory=SecretsSettings)
    taxii: TaxiiSettings = field(default_factory=TaxiiSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    sharing: SharingSettings = field(default_factory=SharingSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    transparency: TransparencySettings = field(default_factory=TransparencySettings)
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    # Per type, the properties kept in released objects, replacing the built-in list for
    # that type ([sharing.allowed_properties] in the file).
    allowed_properties: tuple[tuple[str, tuple[str, ...]], ...] = ()
    collections: tuple[CollectionSettings, ...] = DEFAULT_COLLECTIONS
    connectors: tuple[ConnectorSettings, ...] = ()
    # Where relative paths are resolved from: the config file's folder, else the working dir.
    base_dir: str = "."

    @property
    def data_dir(self) -> Path:
        return (Path(self.base_dir) / self.storage.data_dir).resolve()

    @property
    def database_url(self) -> str:
        return self.storage.url or f"sqlite:///{self.data_dir / 'hub.db'}"

    def secret_path(self, name: str) -> Path:
        """Path of the secret file `name` (session_key, api_key_pepper, pseudonym_key)."""
        configured: str = getattr(self.secrets, f"{name}_file")
        if configured:
            return (Path(self.base_dir) / configured).resolve()
        return self.data_dir / "secrets" / name

    def path(self, configured: str) -> Path:
        """A path from the config file, relative to its folder."""
        return (Path(self.base_dir) / configured).resolve()

    def connector(self, name: str) -> ConnectorSettings:
        """The connector called `name`, or a ConfigError naming the ones there are."""
        for connector in self.connectors:
            if connector.name == name:
                return connector
        known = ", ".join(c.name for c in self.connectors) or "none is configured"
        raise ConfigError(f"connectors.{name}: no such connector ({known})")


_SECTIONS: dict[str, type[Any]] = {
    "server": ServerSettings,
    "storage": StorageSettings,
    "secrets": SecretsSettings,
    "taxii": TaxiiSettings,
    "ingest": IngestSettings,
    "queue": QueueSettings,
    "sharing": SharingSettings,
    "retention": RetentionSettings,
    "transparency": TransparencySettings,
    "observability": ObservabilitySettings,
    "limits": LimitsSettings,
    "console": ConsoleSettings,
}


def load_settings(path: str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load settings from `path` (or $HUB_CONFIG, or defaults) and apply HUB_* overrides."""
    env = os.environ if env is None else env
    path = path or env.get("HUB_CONFIG") or None
    raw: dict[str, Any] = {}
    base_dir = Path.cwd()
    if path:
        file = Path(path)
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} cannot be read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        base_dir = file.resolve().parent
    return _build(raw, env, base_dir)


def _build(raw: dict[str, Any], env: Mapping[str, str], base_dir: Path) -> Settings:
    unknown = set(raw) - set(_SECTIONS) - {"collections", "connectors"}
    if unknown:
        raise ConfigError(f"unknown section [{sorted(unknown)[0]}]")
    sections: dict[str, Any] = {}
    allowed: tuple[tuple[str, tuple[str, ...]], ...] = ()
    for name, cls in _SECTIONS.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"[{name}] must be a table")
        if name == "sharing" and "allowed_properties" in table:
            table = dict(table)
            allowed = _allowed_properties(table.pop("allowed_properties"))
        sections[name] = _section(name, cls, table, env)
    collections = _collections(raw.get("collections"))
    settings = Settings(
        collections=collections,
        connectors=_connectors(raw.get("connectors")),
        allowed_properties=allowed,
        base_dir=str(base_dir),
        **sections,
    )
    _check(settings)
    return settings


def _section(name: str, cls: type[Any], table: dict[str, Any], env: Mapping[str, str]) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in table:
        if key not in known:
            raise ConfigError(f"{name}.{key}: unknown setting")
    values: dict[str, Any] = {}
    for f in fields(cls):
        env_name = f"HUB_{name}_{f.name}".upper()
        if env_name in env:
            values[f.name] = _from_env(
                f"{name}.{f.name} (from {env_name})", hints[f.name], env[env_name]
            )
        elif f.name in table:
            values[f.name] = _typed(f"{name}.{f.name}", hints[f.name], table[f.name])
    return cls(**values)


def _typed(key: str, hint: Any, value: Any) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise ConfigError(f"{key}: unsupported setting type")  # pragma: no cover


def _from_env(key: str, hint: Any, text: str) -> Any:
    if hint is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{key}: expected true or false, got {text!r}")
    if hint is int:
        try:
            return int(text.strip())
        except ValueError:
            raise ConfigError(f"{key}: expected an integer, got {text!r}") from None
    return text


def _collections(raw: Any) -> tuple[CollectionSettings, ...]:
    if raw is None:
        return DEFAULT_COLLECTIONS
    if not isinstance(raw, dict):
        raise ConfigError("[collections] must be a table of [collections.<alias>] tables")
    result = []
    known = {f.name for f in fields(CollectionSettings)} - {"alias"}
    for alias, table in raw.items():
        key = f"collections.{alias}"
        if not ALIAS.match(alias):
            raise ConfigError(f"{key}: an alias is lowercase letters, digits, '-' or '_'")
        if not isinstance(table, dict):
            raise ConfigError(f"{key} must be a table")
        for name in table:
            if name not in known:
                raise ConfigError(f"{key}.{name}: unknown setting")
        values: dict[str, Any] = {"alias": alias, "title": table.get("title", alias)}
        for name in ("title", "description", "kind", "identity"):
            if name in table:
                values[name] = _typed(f"{key}.{name}", str, table[name])
        for name in ("readers", "writers"):
            if name in table:
                values[name] = _principals(f"{key}.{name}", table[name])
        if "tlp" in table:
            values["tlp"] = _strings(f"{key}.tlp", table["tlp"])
        if "retention_days" in table:
            values["retention_days"] = _typed(f"{key}.retention_days", int, table["retention_days"])
        result.append(CollectionSettings(**values))
    return tuple(result)


def _connectors(raw: Any) -> tuple[ConnectorSettings, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ConfigError("[connectors] must be a table of [connectors.<name>] tables")
    return tuple(_connector(name, table) for name, table in raw.items())


def _connector(name: str, table: Any) -> ConnectorSettings:
    key = f"connectors.{name}"
    if not ALIAS.match(name):
        raise ConfigError(f"{key}: a name is lowercase letters, digits, '-' or '_'")
    if not isinstance(table, dict):
        raise ConfigError(f"{key} must be a table")
    kind = table.get("kind")
    if kind not in CONNECTOR_KINDS:
        raise ConfigError(f"{key}.kind: one of {', '.join(CONNECTOR_KINDS)}, got {kind!r}")
    hints = get_type_hints(ConnectorSettings)
    values: dict[str, Any] = {"name": name}
    for setting, value in table.items():
        if setting not in CONNECTOR_KEYS[kind]:
            if setting in _SECRET_NAMES:
                raise ConfigError(
                    f"{key}.{setting}: never put a secret in the config; name a file "
                    f"({setting}_file) or an environment variable ({setting}_env) holding it"
                )
            if setting in hints:
                raise ConfigError(f"{key}.{setting}: not a setting of a {kind} connector")
            raise ConfigError(f"{key}.{setting}: unknown setting")
        if setting == "types":
            values[setting] = _strings(f"{key}.types", value)
        else:
            values[setting] = _typed(f"{key}.{setting}", hints[setting], value)
    connector = ConnectorSettings(**values)
    _check_connector(key, connector)
    return connector


def _check_connector(key: str, c: ConnectorSettings) -> None:
    required = {"taxii-pull": ("url", "collection"), "taxii-push": ("url", "collection")}
    for setting in required.get(c.kind, ("path",)):
        if not getattr(c, setting):
            raise ConfigError(f"{key}.{setting}: required for a {c.kind} connector")
    for secret in ("hub_key", "password", "token"):
        if getattr(c, f"{secret}_file") and getattr(c, f"{secret}_env"):
            raise ConfigError(f"{key}.{secret}_file: give {secret}_file or {secret}_env, not both")
    if not (c.hub_key_file or c.hub_key_env):
        raise ConfigError(
            f"{key}.hub_key_file: name the file (or hub_key_env the variable) "
            "holding the hub API key, KEYID:SECRET"
        )
    has_password = bool(c.password_file or c.password_env)
    if has_password != bool(c.username):
        raise ConfigError(f"{key}.username: a username and a password_file/_env go together")
    if has_password and (c.token_file or c.token_env):
        raise ConfigError(f"{key}.token_file: a token or a username and password, not both")
    if c.kind == "taxii-push" and c.hub_collection == "inbox":
        raise ConfigError(f'{key}.hub_collection: the hub feed to forward (e.g. "members")')
    for setting in ("url", "hub_url"):
        url: str = getattr(c, setting)
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{key}.{setting}: an http:// or https:// URL, got {url!r}")
        if parts.username or parts.password:
            raise ConfigError(f"{key}.{setting}: no credentials in a URL; use *_file or *_env")
    if c.tlp and c.tlp not in TLP_LEVELS:
        raise ConfigError(f"{key}.tlp: one of {', '.join(TLP_LEVELS)}")
    if c.added_after and not re.match(
        r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$", c.added_after
    ):
        raise ConfigError(f"{key}.added_after: a STIX timestamp like 2026-01-31T00:00:00Z")
    for setting in ("interval_seconds", "page_size", "batch_objects", "timeout_seconds"):
        if getattr(c, setting) < 1:
            raise ConfigError(f"{key}.{setting}: at least 1")
    if c.retries < 0 or c.backoff_max_seconds < 1:
        raise ConfigError(f"{key}.retries: 0 or more; backoff_max_seconds: at least 1")


def _principals(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}: expected a list of strings")
    for item in value:
        if not _READER.match(item):
            raise ConfigError(
                f"{key}: {item!r} is not a member kind ('industry', 'government'), "
                "'<kind>:<sector>', 'sector:<sector>' or '*'"
            )
    return tuple(value)


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}: expected a list of strings")
    return tuple(value)


def _allowed_properties(raw: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Per type, the properties a release keeps: each list must keep what makes the object
    STIX 2.1, or every released object of that type would be invalid."""
    if not isinstance(raw, dict):
        raise ConfigError("[sharing.allowed_properties] must be a table of type = [properties]")
    lists = []
    for obj_type, props in sorted(raw.items()):
        key = f"sharing.allowed_properties.{obj_type}"
        names = _strings(key, props)
        problems = allowed_list_problems(key, obj_type, names)
        if problems:
            raise ConfigError("; ".join(problems))
        lists.append((obj_type, names))
    return tuple(lists)


def check_principals(key: str, values: list[str]) -> tuple[str, ...]:
    """Validate reader/writer entries given outside a config file (e.g. on the command line)."""
    return _principals(key, values)


def _check(settings: Settings) -> None:
    server, taxii = settings.server, settings.taxii
    if not 0 < server.port < 65536:
        raise ConfigError(f"server.port: {server.port} is not a TCP port")
    if server.workers < 1 or server.threads < 1:
        raise ConfigError("server.workers and server.threads must be at least 1")
    if not 0 <= server.trusted_proxies <= 10:
        raise ConfigError("server.trusted_proxies: the number of proxies in front, 0 to 10")
    if not 1 <= server.keepalive_seconds <= 600:
        raise ConfigError("server.keepalive_seconds: 1 to 600 seconds")
    if taxii.max_content_length < 1024:
        raise ConfigError("taxii.max_content_length: must be at least 1024 bytes")
    if not 1 <= taxii.default_page_size <= taxii.max_page_size:
        raise ConfigError("taxii.default_page_size: must be between 1 and taxii.max_page_size")
    if not ALIAS.match(taxii.api_root):
        raise ConfigError("taxii.api_root: lowercase letters, digits, '-' or '_'")
    ingest, queue = settings.ingest, settings.queue
    if ingest.max_objects < 1 or ingest.max_depth < 2 or ingest.chunk_size < 1:
        raise ConfigError("ingest.max_objects, max_depth and chunk_size must be positive")
    if ingest.inline_max_objects < 0 or ingest.future_tolerance_seconds < 0:
        raise ConfigError("ingest.inline_max_objects and future_tolerance_seconds are >= 0")
    if queue.redis_url and not queue.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("queue.redis_url: a redis://, rediss:// or unix:// URL")
    if queue.reclaim_after_seconds < 1:
        raise ConfigError("queue.reclaim_after_seconds: at least 1")
    if queue.heartbeat_seconds < 1:
        raise ConfigError("queue.heartbeat_seconds: at least 1")
    if queue.worker_stale_seconds <= queue.heartbeat_seconds:
        raise ConfigError("queue.worker_stale_seconds: more than queue.heartbeat_seconds")
    if queue.worker_forget_hours < 1:
        raise ConfigError("queue.worker_forget_hours: at least 1")
    url = settings.storage.url
    if url and not url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        raise ConfigError("storage.url: only sqlite:// and postgresql:// URLs are supported")
    names = [c.name for c in settings.connectors]
    if len(names) != len(set(names)):  # pragma: no cover - TOML refuses a table twice
        raise ConfigError("connectors: a name is defined twice")
    aliases = [c.alias for c in settings.collections]
    if len(aliases) != len(set(aliases)):
        raise ConfigError("collections: an alias is defined twice")
    for c in settings.collections:
        if c.kind not in COLLECTION_KINDS:
            raise ConfigError(f"collections.{c.alias}.kind: one of {', '.join(COLLECTION_KINDS)}")
        for level in c.tlp:
            if level not in TLP_LEVELS:
                raise ConfigError(
                    f"collections.{c.alias}.tlp: {level!r} is not one of {', '.join(TLP_LEVELS)}"
                )
            if level in ("amber+strict", "red"):
                raise ConfigError(
                    f"collections.{c.alias}.tlp: TLP:{level.upper()} is never released to a feed"
                )
        if c.tlp and c.kind != "feed":
            raise ConfigError(f"collections.{c.alias}.tlp: only a feed receives by TLP")
        if c.identity not in ("consent", "never"):
            raise ConfigError(f"collections.{c.alias}.identity: 'consent' or 'never'")
        if c.retention_days < 0:
            raise ConfigError(f"collections.{c.alias}.retention_days: 0 (keep) or more")
    retention = settings.retention
    for f in fields(RetentionSettings):
        if getattr(retention, f.name) < (-1 if f.name == "expired_grace_days" else 0):
            raise ConfigError(f"retention.{f.name}: must not be negative")
    limits = settings.limits
    if limits.requests_per_minute < 0 or limits.burst < 1 or limits.objects_per_day < 0:
        raise ConfigError("limits: requests_per_minute and objects_per_day >= 0, burst >= 1")
    observability = settings.observability
    if observability.log_format not in ("json", "text"):
        raise ConfigError("observability.log_format: json or text")
    if observability.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("observability.log_level: debug, info, warning or error")
    if settings.transparency.min_group_size < 2:
        raise ConfigError("transparency.min_group_size: at least 2")
    _check_sharing(settings)
    _check_console(settings.console)


def _check_console(console: ConsoleSettings) -> None:
    if console.idle_timeout_minutes < 1 or console.max_session_hours < 1:
        raise ConfigError("console.idle_timeout_minutes and max_session_hours: at least 1")
    if console.cookie_secure not in ("auto", "always", "never"):
        raise ConfigError("console.cookie_secure: auto, always or never")
    if console.cookie_samesite not in ("Lax", "Strict"):
        raise ConfigError("console.cookie_samesite: Lax or Strict")
    if min(console.lockout_threshold, console.lockout_address_threshold) < 1:
        raise ConfigError("console.lockout_threshold and lockout_address_threshold: at least 1")
    if not 1 <= console.lockout_seconds <= console.lockout_max_seconds:
        raise ConfigError("console.lockout_seconds: at least 1 and at most lockout_max_seconds")
    if not 1 <= console.page_size <= 1000:
        raise ConfigError("console.page_size: between 1 and 1000")


def _check_sharing(settings: Settings) -> None:
    sharing = settings.sharing
    if sharing.default_tlp not in TLP_LEVELS:
        raise ConfigError(f"sharing.default_tlp: one of {', '.join(TLP_LEVELS)}")
    if sharing.unknown_marking not in ("hold", "reject", "red"):
        raise ConfigError("sharing.unknown_marking: hold, reject or red")
    for f in fields(SharingSettings):
        if f.name.startswith("detect_"):
            value = getattr(sharing, f.name)
            if value not in ("redact", "hold", "allow"):
                raise ConfigError(f"sharing.{f.name}: redact, hold or allow, got {value!r}")


def replace(settings: Settings, **sections: Any) -> Settings:
    """A copy of `settings` with some scalar settings changed: replace(s, storage={'url': ...})."""
    changes: dict[str, Any] = {}
    for name, values in sections.items():
        if name in _SECTIONS:
            changes[name] = dataclasses.replace(getattr(settings, name), **values)
        else:
            changes[name] = values
    result = dataclasses.replace(settings, **changes)
    _check(result)
    return result
