"""Secrets a connector needs, read from the files or environment variables its settings name.

The config file only ever names where a secret is (`*_file`, `*_env`); the value is read when
the connector starts, kept out of every repr, and never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import requests
import requests.auth

from hub.config import ConnectorSettings, Settings


class CredentialError(Exception):
    """A secret named in the settings cannot be read; the message names the setting."""


@dataclass(frozen=True)
class HubKey:
    """The member API key a connector uses with the hub: KEYID:SECRET (HTTP Basic)."""

    key_id: str
    secret: str = field(repr=False)

    def auth(self) -> requests.auth.AuthBase:
        return requests.auth.HTTPBasicAuth(self.key_id, self.secret)


class BearerAuth(requests.auth.AuthBase):
    """`Authorization: Bearer <token>` on every request."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(<hidden>)"


def read_secret(
    settings: Settings,
    connector: ConnectorSettings,
    name: str,
    env: Mapping[str, str] | None = None,
) -> str | None:
    """The secret `name` (hub_key, password, token) of a connector, or None if none is named."""
    env = os.environ if env is None else env
    key = f"connectors.{connector.name}"
    file_name: str = getattr(connector, f"{name}_file")
    env_name: str = getattr(connector, f"{name}_env")
    if file_name:
        path = settings.path(file_name)
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CredentialError(
                f"{key}.{name}_file: cannot read {path}: {exc.strerror}"
            ) from None
        where = f"{key}.{name}_file ({path})"
    elif env_name:
        if env_name not in env:
            raise CredentialError(f"{key}.{name}_env: the environment variable {env_name} is unset")
        value = env[env_name].strip()
        where = f"{key}.{name}_env ({env_name})"
    else:
        return None
    if not value:
        raise CredentialError(f"{where} is empty")
    return value


def hub_key(
    settings: Settings, connector: ConnectorSettings, env: Mapping[str, str] | None = None
) -> HubKey:
    """The connector's hub API key, checked for the KEYID:SECRET form."""
    value = read_secret(settings, connector, "hub_key", env)
    key_id, colon, secret = (value or "").partition(":")
    if not (colon and key_id and secret):
        raise CredentialError(
            f"connectors.{connector.name}.hub_key: the key must read KEYID:SECRET, as "
            "`hub key issue` prints it"
        )
    return HubKey(key_id, secret)


def remote_auth(
    settings: Settings, connector: ConnectorSettings, env: Mapping[str, str] | None = None
) -> requests.auth.AuthBase | None:
    """How to authenticate to the remote TAXII server: Basic, Bearer, or not at all."""
    password = read_secret(settings, connector, "password", env)
    if password is not None:
        return requests.auth.HTTPBasicAuth(connector.username, password)
    token = read_secret(settings, connector, "token", env)
    return BearerAuth(token) if token is not None else None
