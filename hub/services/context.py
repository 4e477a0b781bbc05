"""The Hub: settings, database and secrets, built once per process and passed to services."""

from __future__ import annotations

import os
import secrets
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.config import ConfigError, Settings
from hub.storage.engine import Database

if TYPE_CHECKING:
    from hub.queue import SubmissionQueue
    from hub.stix.validation import ObjectValidator

SECRET_NAMES = ("session_key", "api_key_pepper", "pseudonym_key")


@dataclass
class Hub:
    settings: Settings
    db: Database
    _secrets: dict[str, bytes] = field(default_factory=dict, repr=False)
    _queue: SubmissionQueue | None = field(default=None, repr=False)
    _validator: ObjectValidator | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Per-process memo of derived things (compiled policies, the pseudonym key), by name.
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def queue(self) -> SubmissionQueue:
        """The submission queue (Redis if configured, else in-process), made on first use."""
        with self._lock:
            if self._queue is None:
                from hub.queue import make_queue

                consumer = f"{socket.gethostname()}-{os.getpid()}"
                self._queue = make_queue(self.settings, consumer)
            return self._queue

    @property
    def validator(self) -> ObjectValidator:
        """The compiled schemas and pattern cache, built on first use (it takes a moment)."""
        with self._lock:
            if self._validator is None:
                from hub.stix.validation import ObjectValidator

                tolerance = self.settings.ingest.future_tolerance_seconds * 1_000_000
                self._validator = ObjectValidator(future_tolerance_us=tolerance)
            return self._validator

    @classmethod
    def open(cls, settings: Settings) -> Hub:
        """Connect to the configured database (nothing is created; `hub init` does that)."""
        return cls(
            settings,
            Database(
                settings.database_url,
                pool_size=settings.storage.pool_size,
                echo=settings.storage.echo,
            ),
        )

    def secret(self, name: str) -> bytes:
        """A secret read from its file, cached; a missing file is a ConfigError, never a default."""
        if name not in self._secrets:
            path = self.settings.secret_path(name)
            try:
                value = path.read_bytes().strip()
            except FileNotFoundError:
                raise ConfigError(
                    f"secrets.{name}_file: {path} does not exist (run `hub init` to create it)"
                ) from None
            if len(value) < 32:
                raise ConfigError(f"secrets.{name}_file: {path} holds fewer than 32 bytes")
            self._secrets[name] = value
        return self._secrets[name]

    def close(self) -> None:
        if self._queue is not None:
            self._queue.close()
        self.db.dispose()


def ensure_secret_files(settings: Settings) -> list[Path]:
    """Create each missing secret file (random, 0600) and return the paths created."""
    created = []
    for name in SECRET_NAMES:
        path = settings.secret_path(name)
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        created.append(path)
    return created
