"""The Hub: settings, database and secrets, built once per process and passed to services."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from hub.config import ConfigError, Settings
from hub.storage.engine import Database

SECRET_NAMES = ("session_key", "api_key_pepper", "pseudonym_key")


@dataclass
class Hub:
    settings: Settings
    db: Database
    _secrets: dict[str, bytes] = field(default_factory=dict, repr=False)

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
