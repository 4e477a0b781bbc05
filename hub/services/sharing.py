"""The sharing policy in force and the pseudonym key: loading, versioning, rotating.

The decisions themselves are pure (`hub.sharing`); `hub.services.release` applies them to
submissions. Policies and keys are cached per process and re-read when they change.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from hub.auth.principal import Principal, matches
from hub.config import MEMBER_KINDS, Settings
from hub.services.context import Hub
from hub.sharing.pii import Detectors
from hub.sharing.policy import (
    DETECTORS,
    FeedPolicy,
    Policy,
    default_allowed_properties,
)
from hub.sharing.pseudonyms import (
    PseudonymKey,
    key_fingerprint,
)
from hub.sharing.versions import rebase
from hub.stix.timestamps import now_us
from hub.storage.collections import CollectionRepository
from hub.storage.sharing import (
    EpochRepository,
    PolicyRepository,
    PolicyVersion,
)

log = logging.getLogger(__name__)


# --- policy ------------------------------------------------------------------------------------


def config_policy(settings: Settings) -> Policy:
    """The policy the configuration file describes."""
    sharing = settings.sharing
    feeds = tuple(
        FeedPolicy(
            c.alias,
            frozenset(c.tlp),
            c.identity,
            government=bool(c.readers) and all(r.startswith("government") for r in c.readers),
        )
        for c in settings.collections
        if c.kind == "feed"
    )
    allowed = default_allowed_properties()
    for obj_type, props in settings.allowed_properties:
        allowed[obj_type] = frozenset(props)
    actions = {name: getattr(sharing, "detect_" + name.replace("-", "_")) for name in DETECTORS}
    domains = tuple(d.strip() for d in sharing.internal_domains.split(",") if d.strip())
    return Policy(
        feeds=feeds,
        default_tlp=sharing.default_tlp,
        unknown_marking=sharing.unknown_marking,
        actions=actions,
        internal_domains=domains,
        allowed_properties=allowed,
    )


def sync_policy(hub: Hub) -> int:
    """Record a new policy version if the configured policy changed since the last version
    taken from the configuration; return the current version number.

    What the file changed is carried onto the version in force: a setting changed in the
    console since keeps its console value unless the file changed that same setting. With no
    console change in between, the new version is exactly the file's policy."""
    configured = config_policy(hub.settings).to_document()
    for attempt in range(3):
        try:
            with hub.db.write() as conn:
                repo = PolicyRepository(conn)
                last_config = repo.latest("config")
                before = orjson.loads(last_config.file_document) if last_config else None
                if before == configured:
                    number = repo.latest_number() or 0
                else:
                    number = _record_configured(repo, configured, last_config)
                    log.info("sharing policy version %d recorded from the configuration", number)
            break
        except IntegrityError:
            # Processes starting together after a change to the file: another one numbered
            # its version first (PostgreSQL; SQLite serialises writers). Look again: the
            # file's policy is usually recorded by now.
            if attempt == 2:
                raise
    for warning in policy_warnings(hub):
        log.warning("sharing policy: %s", warning)
    return number


def _record_configured(
    repo: PolicyRepository, configured: dict[str, Any], last_config: PolicyVersion | None
) -> int:
    """A version for the file's changed policy, carried onto the version in force."""
    in_force = repo.latest()
    note = "taken from the configuration"
    document = configured
    if last_config is not None and in_force is not None:
        document = rebase(
            orjson.loads(in_force.document), orjson.loads(last_config.file_document), configured
        )
        if in_force.version != last_config.version:
            note = (
                f"the configuration's changes, carried onto version {in_force.version} "
                "(settings changed since in the console, and not in the file, keep their value)"
            )
    policy = Policy.from_document(document)
    stored = policy.to_document()
    return repo.add(
        created_us=now_us(),
        source="config",
        author=None,
        digest=policy.digest(),
        document=orjson.dumps(stored).decode("utf-8"),
        note=note,
        # Kept apart only where console settings made the version differ from the file.
        config_document=None if stored == configured else orjson.dumps(configured).decode(),
    )


def policy_warnings(hub: Hub, policy: Policy | None = None) -> list[str]:
    """What in the current policy (or `policy`) and the feeds' readers weakens pseudonymity
    (see `linkage_warnings`); shown by `hub policy show` and the console, logged at start."""
    with hub.db.read() as conn:
        if policy is None:
            _, policy = current_policy(hub, conn)
        readers = {c.alias: c.readers for c in CollectionRepository(conn).list()}
    return linkage_warnings(policy, readers)


def current_policy(hub: Hub, conn: Connection | None = None) -> tuple[int, Policy]:
    """The newest policy version and the policy it holds (cached per version)."""
    if conn is None:
        with hub.db.read() as own:
            return current_policy(hub, own)
    repo = PolicyRepository(conn)
    number = repo.latest_number()
    if number is None:
        return 0, config_policy(hub.settings)  # not synchronised yet: the file's policy
    cache = hub.cache.setdefault("policies", {})
    if number not in cache:
        version = repo.get(number)
        assert version is not None
        cache[number] = Policy.from_document(orjson.loads(version.document))
    return number, cache[number]


def detectors_for(hub: Hub, version: int, policy: Policy) -> Detectors:
    cache = hub.cache.setdefault("detectors", {})
    if version not in cache:
        cache[version] = Detectors(policy.internal_domains)
    return cache[version]  # type: ignore[no-any-return]


# --- pseudonym key -----------------------------------------------------------------------------


def pseudonym_key(hub: Hub) -> PseudonymKey:
    """The current pseudonym key and its epoch. The file is re-read when it changes (after
    `hub keys rotate-pseudonyms`), so running workers move to a new epoch on their own."""
    path = hub.settings.secret_path("pseudonym_key")
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        hub.secret("pseudonym_key")  # raises the ConfigError that says to run `hub init`
        raise
    cached = hub.cache.get("pseudonym_key")
    if cached is not None and cached[0] == stamp:
        return cached[1]  # type: ignore[no-any-return]
    secret = path.read_bytes().strip()
    if len(secret) < 32:
        hub.secret("pseudonym_key")
    fingerprint = key_fingerprint(secret)
    try:
        with hub.db.write() as conn:
            repo = EpochRepository(conn)
            epoch = repo.by_fingerprint(fingerprint) or repo.start(fingerprint, now_us())
    except IntegrityError:
        # Another process using the key for the first time recorded its epoch first.
        with hub.db.read() as conn:
            found = EpochRepository(conn).by_fingerprint(fingerprint)
        if found is None:
            raise
        epoch = found
    key = PseudonymKey(epoch.epoch, secret, epoch.started_us)
    hub.cache["pseudonym_key"] = (stamp, key)
    return key


def rotate_pseudonym_key(hub: Hub) -> int:
    """Replace the pseudonym key by a new random one (the old one is overwritten, so its
    pseudonyms can no longer be derived) and start a new epoch; returns the epoch number."""
    path = hub.settings.secret_path("pseudonym_key")
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    hub.cache.pop("pseudonym_key", None)
    return pseudonym_key(hub).epoch


def _shared_reader(first: Sequence[str], second: Sequence[str]) -> str | None:
    """A kind of member (as 'kind members' or 'kind members in sector') that may read
    through both reader lists, or None."""
    sectors = {e.partition(":")[2] for e in (*first, *second) if ":" in e} | {""}
    for kind in MEMBER_KINDS:
        for sector in sorted(sectors):
            reader = Principal("", "", kind, sector or None, "", frozenset())
            if matches(reader, first) and matches(reader, second):
                return f"{kind} members in {sector}" if sector else f"{kind} members"
    return None


def linkage_warnings(policy: Policy, readers: Mapping[str, Sequence[str]]) -> list[str]:
    """Where pseudonyms can be linked to the member behind them. Objects keep their ids in
    every feed; a member who reads a feed that names a submitter and another that
    pseudonymises it sees the same object under both, and so learns who the pseudonym is:
    harmless when the second feed holds nothing the first does not, a disclosure when it
    takes TLP levels the first does not. `readers`: each feed alias's reader entries."""
    warnings: list[str] = []
    for consent in ("everyone", "government"):
        for named in policy.feeds:
            if named.identity != "consent" or (consent == "government" and not named.government):
                continue
            for hidden in policy.feeds:
                names_here = hidden.identity == "consent" and (
                    consent == "everyone" or hidden.government
                )
                extra = hidden.tlp - named.tlp
                if names_here or not extra:
                    continue
                who = _shared_reader(readers.get(named.alias, ()), readers.get(hidden.alias, ()))
                if who is None:
                    continue
                levels = ", ".join(f"TLP:{t.upper()}" for t in sorted(extra))
                warnings.append(
                    f"{who} read both {named.alias!r}, where a member with consent {consent!r} "
                    f"is named, and {hidden.alias!r}, where it is pseudonymised: an object in "
                    f"both links the pseudonym to the member, whose {levels} objects in "
                    f"{hidden.alias!r} are then attributed to it"
                )
    return warnings
